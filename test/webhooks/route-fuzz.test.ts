import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../helpers/prng.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { hookName, schemeIntegrations } from './route-harness.js';
import { CASES, type SchemeCase } from './schemes-signers.js';

/**
 * 10,000 mutated deliveries over HTTP, every scheme: none is accepted and none gets a 5xx. Each is
 * a valid signed delivery with one edit to what the scheme signs or checks (the body, or a header
 * the signer set), sent as a provider would (a header value holds visible ASCII only on the wire,
 * so edits there stay ASCII; the unit fuzz in schemes-fuzz.test.ts covers every code point).
 * FUZZ_SEED replays a run.
 */
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x0ddba11);
const DELIVERIES = 10_000;
const CONCURRENCY = 32;

interface Delivery {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  what: string;
}

let hub: RunningHub;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

beforeAll(async () => {
  hub = await startHub({ integrations: schemeIntegrations() });
});
afterAll(async () => {
  agent.destroy();
  await hub.stop();
});

/** A valid delivery of the case's scheme, signed now: the starting point of each mutation. */
async function valid(c: SchemeCase): Promise<{ body: string; headers: Record<string, string> }> {
  const tag = randomUUID();
  const body = JSON.stringify({ id: `evt_${tag}`, event_id: `Ev${tag}`, task_id: `task_${tag}`, type: 'thing.happened', event: { type: 'message' } });
  const signed = await c.sign(body, c.secrets[0], Math.floor(Date.now() / 1000));
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-github-delivery': tag, 'x-shopify-event-id': tag, 'x-atlassian-webhook-identifier': tag, ...signed },
  };
}

function mutate(c: SchemeCase, base: { body: string; headers: Record<string, string> }, signedNames: string[], rnd: () => number): Delivery {
  const int = (n: number) => Math.floor(rnd() * n);
  const ascii = () => String.fromCharCode(33 + int(94));
  const path = `/webhooks/${hookName(c.scheme)}`;
  const headers = { ...base.headers };
  let body = Buffer.from(base.body);
  let what: string;
  if (rnd() < 0.5) {
    const i = int(body.length);
    const op = int(4);
    if (op === 0) body[i] = body[i]! ^ (1 << int(8));
    else if (op === 1) body = Buffer.concat([body.subarray(0, i), Buffer.from([int(256)]), body.subarray(i)]);
    else if (op === 2) body = Buffer.concat([body.subarray(0, i), body.subarray(i + 1)]);
    else body = body.subarray(0, i);
    what = `body op ${op} at ${i}`;
  } else {
    const name = signedNames[int(signedNames.length)]!;
    const v = headers[name]!;
    const op = int(5);
    const i = int(v.length);
    if (op === 0) headers[name] = v.slice(0, i) + ascii() + v.slice(i + 1);
    else if (op === 1) headers[name] = v.slice(0, i) + ascii() + v.slice(i);
    else if (op === 2) headers[name] = v.slice(0, i) + v.slice(i + 1);
    else if (op === 3) delete headers[name];
    else headers[name] = v + ascii().repeat(1 + int(4000));
    what = `header ${name} op ${op} at ${i}`;
  }
  // An edit that happens to rebuild the original (a deleted byte re-inserted, say) is no mutation.
  if (body.equals(Buffer.from(base.body)) && JSON.stringify(headers) === JSON.stringify(base.headers)) headers[signedNames[0]!] = '';
  return { path, body, headers, what };
}

function send(d: Delivery): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${new URL(hub.url).origin}${d.path}`,
      { method: 'POST', agent, headers: { ...d.headers, 'content-length': String(d.body.length) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(d.body);
  });
}

describe('the webhook route under 10,000 mutated deliveries', () => {
  it('accepts none and answers none with a 5xx', { timeout: 120_000 }, async () => {
    const rnd = prng(SEED);
    const bases = await Promise.all(CASES.map(async (c) => ({ c, base: await valid(c), signed: Object.keys(await c.sign('{}', c.secrets[0], 0)) })));
    // The starting points are good: each is accepted as it is.
    for (const { c, base } of bases)
      expect(await send({ path: `/webhooks/${hookName(c.scheme)}`, body: Buffer.from(base.body), headers: base.headers, what: 'valid' })).toBe(200);

    const statuses = new Map<number, number>();
    const wrong: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < DELIVERIES) {
        const n = next++;
        const { c, base, signed } = bases[n % bases.length]!;
        const d = mutate(c, base, signed, rnd);
        const status = await send(d);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status < 400 || status >= 500) wrong.push(`#${n} ${c.scheme} ${d.what} → ${status} (FUZZ_SEED=${SEED})`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(wrong.slice(0, 10)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(DELIVERIES);
    expect([...statuses.keys()].every((s) => s === 400 || s === 401 || s === 413 || s === 431)).toBe(true);
  });
});
