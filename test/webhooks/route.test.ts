import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, PLAIN, hookName, post, schemeIntegrations, standardHeaders } from './route-harness.js';
import { CASES, SIGNS_TIMESTAMP, withTimestamp, type SchemeCase } from './schemes-signers.js';

let hub: RunningHub;

beforeAll(async () => {
  hub = await startHub({ integrations: { ...schemeIntegrations(), acme: ACME, plain: PLAIN } });
});
afterAll(() => hub.stop());

/** A body every scheme can describe (each reads its id and type from its own place), unique per call. */
function bodyFor(tag = randomUUID()): string {
  return JSON.stringify({
    id: `evt_${tag}`,
    event_id: `Ev${tag}`,
    task_id: `task_${tag}`,
    type: 'thing.happened',
    event: { type: 'message' },
    webhookEvent: 'jira:issue_updated',
  });
}

/** The provider's own signature headers, plus the unsigned id and type headers the scheme reads. */
async function signed(c: SchemeCase, body: string, seconds = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
  if (c.scheme === 'standard-webhooks') return standardHeaders(c.secrets[0], `msg_${randomUUID()}`, body, seconds);
  const ids: Record<string, string> = {
    'x-github-delivery': randomUUID(),
    'x-github-event': 'push',
    'x-shopify-event-id': randomUUID(),
    'x-shopify-topic': 'orders/create',
    'x-atlassian-webhook-identifier': randomUUID(),
  };
  return { 'content-type': 'application/json', ...ids, ...(await c.sign(body, c.secrets[0], seconds)) };
}

const errorBody = (code: string) => ({ error: { code, message: expect.any(String) } });

describe('POST /webhooks/:integration: verified, then stored, then 200', () => {
  it.each(CASES.map((c) => [c.scheme, c] as const))('%s: a valid delivery is stored; its redelivery is a 200 duplicate of the same event', async (_name, c) => {
    const body = bodyFor();
    const headers = await signed(c, body);
    const first = await post(hub, `/webhooks/${hookName(c.scheme)}`, body, headers);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { ok: boolean; id: string; duplicate: boolean };
    expect(answer).toEqual({ ok: true, id: expect.stringMatching(/^evt_/), duplicate: false, routed: 0 });
    const again = await post(hub, `/webhooks/${hookName(c.scheme)}`, body, headers);
    expect(await again.json()).toEqual({ ok: true, id: answer.id, duplicate: true, routed: 0 });
    const stored = await hub.hub.inbox.inbox.get(answer.id);
    expect(stored).toMatchObject({ integration: hookName(c.scheme), endpoint: '', source: 'webhook', connection: null });
    // The bytes as they arrived, and the type where the scheme keeps it.
    expect(stored!.payload.toString('utf8')).toBe(body);
    const types: Record<string, string> = { github: 'push', shopify: 'orders/create', slack: 'message', jira: 'jira:issue_updated', upagents: 'unknown' };
    expect(stored!.type).toBe(types[c.scheme] ?? 'thing.happened');
  });

  it.each(CASES.map((c) => [c.scheme, c] as const))(
    '%s: a changed body, a missing header or a changed signature is a 401 with its code, and nothing is stored',
    async (_name, c) => {
      const before = (await hub.hub.inbox.inbox.list({ integration: hookName(c.scheme), limit: 10_000 })).length;
      const body = bodyFor();
      const headers = await signed(c, body);
      const path = `/webhooks/${hookName(c.scheme)}`;
      const tampered = await post(hub, path, body.replace('thing', 'thong'), headers);
      expect([tampered.status, await tampered.json()]).toEqual([401, errorBody('bad_signature')]);
      const { [c.signatureHeader]: _dropped, ...unsigned } = headers;
      const missing = await post(hub, path, body, unsigned);
      expect([missing.status, await missing.json()]).toEqual([401, errorBody('missing_header')]);
      const sig = headers[c.signatureHeader]!;
      const flipped = sig.slice(0, -3) + (sig.at(-3) === 'a' ? 'b' : 'a') + sig.slice(-2);
      const forged = await post(hub, path, body, { ...headers, [c.signatureHeader]: flipped });
      expect(forged.status).toBe(401);
      expect(((await forged.json()) as { error: { code: string } }).error.code).toMatch(/^(bad_signature)$/);
      expect((await hub.hub.inbox.inbox.list({ integration: hookName(c.scheme), limit: 10_000 })).length).toBe(before);
    },
  );

  it.each(CASES.filter((c) => SIGNS_TIMESTAMP.has(c.scheme)).map((c) => [c.scheme, c] as const))(
    '%s: a delivery signed 10 minutes ago is stale (401 stale_timestamp); one with its timestamp changed is forged',
    async (_name, c) => {
      const body = bodyFor();
      const old = Math.floor(Date.now() / 1000) - 600;
      const stale = await post(hub, `/webhooks/${hookName(c.scheme)}`, body, await signed(c, body, old));
      expect([stale.status, await stale.json()]).toEqual([401, errorBody('stale_timestamp')]);
      const moved = withTimestamp(c, await signed(c, body), String(Math.floor(Date.now() / 1000) + 1));
      expect((await post(hub, `/webhooks/${hookName(c.scheme)}`, body, moved)).status).toBe(401);
    },
  );

  it('form-encoded deliveries (Slack slash commands and interactivity, GitHub form hooks) are read through the form, verified on their bytes', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const send = async (scheme: 'slack' | 'github', body: string) => {
      const c = CASES.find((x) => x.scheme === scheme)!;
      const res = await post(hub, `/webhooks/${hookName(scheme)}`, body, { ...(await signed(c, body)), ...form });
      return { status: res.status, json: (await res.json()) as { id: string; duplicate: boolean } };
    };
    const slash = await send('slack', 'command=%2Fdeploy&text=api+now&team_id=T1&trigger_id=13345224609.738474920.8088930838d88f008e0');
    expect([slash.status, slash.json.duplicate]).toEqual([200, false]);
    // Interactivity: the JSON in `payload` is what body: selectors read (event_id, event.type here).
    const tag = randomUUID();
    const interactive = (n: number) => `payload=${encodeURIComponent(JSON.stringify({ event_id: `Ev${tag}`, event: { type: 'block_actions' }, n }))}`;
    const first = await send('slack', interactive(1));
    expect([first.status, first.json.duplicate]).toEqual([200, false]);
    expect((await hub.hub.inbox.inbox.get(first.json.id))!.type).toBe('block_actions');
    const retry = await send('slack', interactive(2));
    expect([retry.status, retry.json]).toEqual([200, expect.objectContaining({ id: first.json.id, duplicate: true })]);
    const gh = await send('github', `payload=${encodeURIComponent(bodyFor())}`);
    expect([gh.status, gh.json.duplicate]).toEqual([200, false]);
    // Verified on the bytes as sent: a form re-encoded after signing is refused.
    const c = CASES.find((x) => x.scheme === 'slack')!;
    const signedFor = await signed(c, 'command=%2Fdeploy&text=a');
    expect((await post(hub, `/webhooks/${hookName('slack')}`, 'command=/deploy&text=a', { ...signedFor, ...form })).status).toBe(401);
  });

  it('a sender still writing a body of many MiB past the cap hears the 413, not a reset connection', async () => {
    // The sender is its own process, as a provider is: sharing the hub's event loop, it could not
    // be mid-write when the hub answers, and the reset it used to get never showed.
    const sender = `
      const { request } = await import('node:http');
      const [url, ...sizes] = process.argv.slice(1);
      const out = [];
      for (const [i, mib] of sizes.map(Number).entries()) {
        const bytes = mib * 1024 * 1024;
        const announced = i % 3 !== 2;
        out.push(await new Promise((resolve) => {
          const headers = { 'content-type': 'application/json', ...(announced ? { 'content-length': String(bytes) } : {}) };
          const req = request(url, { method: 'POST', headers }, (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve(res.statusCode + ' ' + JSON.parse(text).error.code));
          });
          req.on('error', (err) => resolve('error ' + err.code));
          req.end(Buffer.alloc(bytes, 0x78));
        }));
      }
      console.log(JSON.stringify(out));`;
    const sizes = ['4', '8', '16', '4', '8', '16', '4', '8', '16'];
    const child = spawn(process.execPath, ['--input-type=module', '-e', sender, `${new URL(hub.url).origin}/webhooks/${hookName('github')}`, ...sizes]);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(sizes.map(() => '413 body_too_large'));
  });

  it('a body over the integration maxBodyBytes is a 413 body_too_large, whether announced or streamed', async () => {
    const c = CASES.find((x) => x.scheme === 'github')!;
    const big = JSON.stringify({ pad: 'x'.repeat(4096) });
    const announced = await post(hub, `/webhooks/${hookName('github')}`, big, await signed(c, big));
    expect([announced.status, await announced.json()]).toEqual([413, errorBody('body_too_large')]);
    // Chunked: no Content-Length, the cap is found while reading.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${new URL(hub.url).origin}/webhooks/${hookName('github')}`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toEqual(errorBody('body_too_large'));
    // Exactly at the cap is accepted: the limit is inclusive.
    const atCap = JSON.stringify({ id: `evt_${randomUUID()}`, pad: '' });
    const padded = atCap.replace('"pad":""', `"pad":"${'y'.repeat(2048 - atCap.length)}"`);
    expect(Buffer.byteLength(padded)).toBe(2048);
    expect((await post(hub, `/webhooks/${hookName('github')}`, padded, await signed(c, padded))).status).toBe(200);
  });

  it('unknown integration, integration without webhooks, unknown endpoint, other methods: 404', async () => {
    const body = bodyFor();
    const headers = standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body);
    for (const path of [
      '/webhooks/nope',
      '/webhooks/plain',
      '/webhooks/acme/wh_unknownunknownunknown00',
      '/webhooks/acme/not%20an%20id',
      '/webhooks/sandbox',
    ]) {
      const res = await post(hub, path, body, headers);
      expect([path, res.status, await res.json()]).toEqual([path, 404, errorBody('not_found')]);
    }
    const get = await fetch(`${new URL(hub.url).origin}/webhooks/acme`);
    expect(get.status).toBe(404);
  });

  it('Slack url_verification: a signed one is answered with its challenge and stores nothing; an unsigned one is a 401', async () => {
    const c = CASES.find((x) => x.scheme === 'slack')!;
    const body = JSON.stringify({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    const before = (await hub.hub.inbox.inbox.list({ integration: hookName('slack'), limit: 10_000 })).length;
    const res = await post(hub, `/webhooks/${hookName('slack')}`, body, await signed(c, body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
    const unsigned = await post(hub, `/webhooks/${hookName('slack')}`, body, { 'content-type': 'application/json' });
    expect([unsigned.status, await unsigned.json()]).toEqual([401, errorBody('missing_header')]);
    expect((await hub.hub.inbox.inbox.list({ integration: hookName('slack'), limit: 10_000 })).length).toBe(before);
  });

  it('Svix-branded Standard Webhooks headers (svix-id, svix-timestamp, svix-signature) are verified and deduplicated on svix-id', async () => {
    const c = CASES.find((x) => x.scheme === 'standard-webhooks')!;
    const body = bodyFor();
    const id = `msg_${randomUUID()}`;
    // What Svix (and Clerk, Resend, … sending through it) puts on the wire: the spec's headers, branded.
    const svix = Object.fromEntries(Object.entries(standardHeaders(c.secrets[0], id, body)).map(([k, v]) => [k.replace(/^webhook-/, 'svix-'), v]));
    expect(Object.keys(svix).sort()).toEqual(['content-type', 'svix-id', 'svix-signature', 'svix-timestamp']);
    const path = `/webhooks/${hookName(c.scheme)}`;
    const first = await post(hub, path, body, svix);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { id: string; duplicate: boolean };
    expect(answer.duplicate).toBe(false);
    // A redelivery carries the same svix-id and a new signature time: the first event's id, once.
    const again = Object.fromEntries(
      Object.entries(standardHeaders(c.secrets[0], id, body, Math.floor(Date.now() / 1000) - 5)).map(([k, v]) => [k.replace(/^webhook-/, 'svix-'), v]),
    );
    expect(await (await post(hub, path, body, again)).json()).toMatchObject({ id: answer.id, duplicate: true });
    const { 'svix-signature': _dropped, ...unsigned } = svix;
    const missing = await post(hub, path, body, unsigned);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: { code: 'missing_header', message: 'the webhook-signature (or svix-signature) header is missing' } });
    const tampered = await post(hub, path, body.replace('thing', 'thong'), svix);
    expect([tampered.status, await tampered.json()]).toEqual([401, errorBody('bad_signature')]);
  });

  it('a verified body a selector cannot read (not JSON) is a 400 bad_body, never a 5xx', async () => {
    const body = 'not json at all';
    const res = await post(hub, '/webhooks/acme', body, standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body));
    expect([res.status, await res.json()]).toEqual([400, errorBody('bad_body')]);
  });
});

describe('the webhook route keeps the guards in front of every route, though express does not serve it', () => {
  let slow: RunningHub;
  beforeAll(async () => {
    slow = await startHub({ integrations: { acme: ACME }, server: { limits: { bodyTimeoutMs: 300 } } });
  });
  afterAll(() => slow.stop());

  /** One raw request: what the guards read is the Host header and the pace of the body. */
  function raw(headers: Record<string, string>, write: (send: (chunk: string) => void) => void): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${new URL(slow.url).origin}/webhooks/acme`,
        { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      write((chunk) => req.write(chunk));
    });
  }

  it('a foreign Host is refused before the body is read', async () => {
    const body = bodyFor();
    const r = await raw({ ...standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body), host: 'attacker.example' }, (send) => send(body));
    expect([r.status, JSON.parse(r.body)]).toEqual([403, errorBody('host_rejected')]);
  });

  it('a body that does not arrive within bodyTimeoutMs is a 408', async () => {
    const body = bodyFor();
    // Announces the whole body, sends a byte of it, and stops.
    const r = await raw({ ...standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body), 'content-length': String(Buffer.byteLength(body)) }, (send) =>
      send('{'),
    );
    expect([r.status, JSON.parse(r.body)]).toEqual([408, errorBody('request_timeout')]);
  });
});
