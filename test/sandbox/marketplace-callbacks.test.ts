/**
 * Where and how often the sandbox agents call back, and what they keep meanwhile. The marketplace
 * answers anyone with its public key, so an async task's callback URL must have the shape of a
 * hub's callback URL, redelivery is capped, and held callbacks and the sent list are bounded. Real
 * HTTP on loopback; callbacks wait on an injected `wait` and hold by an injected clock.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_TTL_MS, MAX_HELD, MAX_SCHEDULED, MAX_SENT } from '../../servers/sandbox/agents-async.js';
import { koreMarketplaceRoutes, SANDBOX_KORE_KEY } from '../../servers/sandbox/agents-kore.js';
import { marketplaceRoutes, SANDBOX_AGENT_KEY } from '../../servers/sandbox/agents.js';

const TASK = `at_${'Q'.repeat(22)}`;
const V1_AUTH = { authorization: `Bearer ${SANDBOX_AGENT_KEY}`, 'content-type': 'application/json' };
const KORE_AUTH = { authorization: `Bearer ${SANDBOX_KORE_KEY}`, 'content-type': 'application/json' };

/** A hub stand-in: records the path of each POST; `/redirect/…` answers 302 to `/elsewhere`. */
async function startHubStandIn(): Promise<{ origin: string; paths: string[]; arrived: (n: number) => Promise<void>; close: () => Promise<void> }> {
  const paths: string[] = [];
  const waiters: Array<{ n: number; done: () => void }> = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      for (const w of waiters.filter((w) => paths.length >= w.n)) w.done();
      if (req.url?.startsWith('/redirect/')) res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    arrived: (n) => new Promise<void>((done) => (paths.length >= n ? done() : waiters.push({ n, done }))),
    close: () => close(server),
  };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

describe('sandbox agent callbacks', () => {
  let server: Server;
  let base: string;
  let hub: Awaited<ReturnType<typeof startHubStandIn>>;
  let now = Date.UTC(2026, 3, 1);

  beforeAll(async () => {
    hub = await startHubStandIn();
    const app = express();
    const instant = async () => {};
    app.use('/v1', marketplaceRoutes({ wait: instant, now: () => now }).router);
    app.use('/kore', koreMarketplaceRoutes({ wait: instant }).router);
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await close(server);
    await hub.close();
  });

  const task = async (agentId: string, url: string) => {
    const body = JSON.stringify({ mode: 'async', input: { input: 'x' }, webhook: { url, secret: 'whsec_test' } });
    const r = await fetch(`${base}/v1/agents/${agentId}/tasks`, { method: 'POST', headers: V1_AUTH, body });
    return { status: r.status, body: (await r.json()) as { task_id?: string; error?: { type: string; message: string } } };
  };
  const callbacks = async () =>
    (await (await fetch(`${base}/v1/_callbacks`, { headers: V1_AUTH })).json()) as {
      held: Array<{ task_id: string }>;
      sent: Array<{ taskId: string; status: number }>;
    };
  const release = (id: string) => fetch(`${base}/v1/_callbacks/${id}/release`, { method: 'POST', headers: V1_AUTH });

  it('refuses a webhook.url that is not a hub callback URL with 400 invalid_input, and posts nothing', async () => {
    const refused = [
      'http://127.0.0.1:9555/',
      `${hub.origin}/agents/callback/task_1`,
      `${hub.origin}/agents/callback/${TASK}/more`,
      `${hub.origin}/agents/callback/${TASK}?x=1`,
      `${hub.origin}/agents/callback/${TASK}#x`,
      `http://user:pw@127.0.0.1:1/agents/callback/${TASK}`,
      `ftp://127.0.0.1/agents/callback/${TASK}`,
      `${hub.origin}/agents/callback/at_short`,
      'not a url',
    ];
    for (const url of refused) {
      const r = await task('echo_v1+callback-ms=0', url);
      expect(r.status, url).toBe(400);
      expect(r.body.error?.type).toBe('invalid_input');
      expect(r.body.error?.message).toMatch(/^webhook\.url must be a hub callback URL/);
    }
    // A hub's URL, also under a public URL with a path, is taken; it is the only one that arrives.
    expect((await task('echo_v1', `${hub.origin}/agents/callback/${TASK}`)).status).toBe(202);
    expect((await task('echo_v1', `${hub.origin}/hub/agents/callback/${TASK}`)).status).toBe(202);
    await hub.arrived(2);
    expect(hub.paths.sort()).toEqual([`/agents/callback/${TASK}`, `/hub/agents/callback/${TASK}`]);
  });

  it('caps callback-duplicates at 5 and the other numeric knobs to their ranges', async () => {
    hub.paths.length = 0;
    const over = await task('echo_v1+callback-duplicates=50+callback-ms=0', `${hub.origin}/agents/callback/${TASK}`);
    expect(over).toEqual({
      status: 400,
      body: { error: { type: 'invalid_input', message: 'failure injection callback-duplicates: must be a whole number from 0 to 5' } },
    });
    const late = await task('echo_v1+callback-ms=3600000', `${hub.origin}/agents/callback/${TASK}`);
    expect(late.body.error?.message).toBe('failure injection callback-ms: must be a whole number from 0 to 60000');
    expect((await task('echo_v1+callback-duplicates=5', `${hub.origin}/agents/callback/${TASK}`)).status).toBe(202);
    await hub.arrived(6);
    expect(hub.paths).toEqual(Array(6).fill(`/agents/callback/${TASK}`));
  });

  it('does not follow a redirect from the callback URL', async () => {
    hub.paths.length = 0;
    const r = await task('echo_v1+callback=hold', `${hub.origin}/redirect/agents/callback/${TASK}`);
    expect(await (await release(r.body.task_id!)).json()).toEqual({ statuses: [302] });
    expect(hub.paths).toEqual([`/redirect/agents/callback/${TASK}`]);
  });

  it('kore: a metadata.callbackUrl that is not a hub callback URL is a 400; a hub one gets the answer', async () => {
    hub.paths.length = 0;
    const send = (callbackUrl: unknown) =>
      fetch(`${base}/kore/agents/storyteller_v1`, {
        method: 'POST',
        headers: KORE_AUTH,
        body: JSON.stringify({
          sessionIdentity: [{ type: 'sessionReference', value: 's' }],
          input: [{ type: 'text', content: 'a fox' }],
          metadata: { callbackUrl },
        }),
      });
    for (const url of ['http://169.254.169.254/latest/meta-data', `${hub.origin}/agents/callback/task_1`, 42]) {
      const r = await send(url);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/^metadata\.callbackUrl must be/);
    }
    expect((await send(`${hub.origin}/agents/callback/${TASK}`)).status).toBe(202);
    await hub.arrived(1);
    expect(hub.paths).toEqual([`/agents/callback/${TASK}`]);
  });

  it(`holds at most ${MAX_HELD} callbacks, the oldest dropped, and none past the hold time`, async () => {
    const ids: string[] = [];
    for (let i = 0; i <= MAX_HELD; i++) ids.push((await task('echo_v1+callback=hold', `${hub.origin}/agents/callback/${TASK}`)).body.task_id!);
    const held = (await callbacks()).held.map((h) => h.task_id);
    expect(held).toHaveLength(MAX_HELD);
    expect(held).not.toContain(ids[0]);
    expect(held.at(-1)).toBe(ids.at(-1));
    expect((await release(ids[0]!)).status).toBe(404);

    now += HOLD_TTL_MS - 1;
    expect((await callbacks()).held).toHaveLength(MAX_HELD);
    now += 1;
    expect((await callbacks()).held).toEqual([]);
    const expired = await release(ids.at(-1)!);
    expect(expired.status).toBe(404);
    expect(((await expired.json()) as { error: { type: string } }).error.type).toBe('not_found');
  });

  it(`keeps the last ${MAX_SENT} sent callbacks`, async () => {
    const before = (await callbacks()).sent.length;
    const tasks = Math.ceil((MAX_SENT - before + 1) / 6);
    let last = '';
    for (let i = 0; i < tasks; i++) last = (await task('echo_v1+callback-duplicates=5', `${hub.origin}/agents/callback/${TASK}`)).body.task_id!;
    expect(before + tasks * 6).toBeGreaterThan(MAX_SENT);
    const sent = await pollSent(callbacks, last);
    expect(sent).toHaveLength(MAX_SENT);
    expect(sent.at(-1)).toEqual({ taskId: last, status: 200 });
  });
});

describe('sandbox agent callbacks waiting to be sent', () => {
  it(`are at most ${MAX_SCHEDULED}: past that a task is answered 429 with Retry-After, until they are sent`, async () => {
    const hub = await startHubStandIn();
    // Each callback waits on the test, not on time: `callback-ms` ends when the test says.
    const waiting: Array<() => void> = [];
    const app = express();
    app.use('/v1', marketplaceRoutes({ wait: () => new Promise<void>((r) => waiting.push(r)) }).router);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agents/echo_v1/tasks`;
    const submit = () =>
      fetch(url, {
        method: 'POST',
        headers: V1_AUTH,
        body: JSON.stringify({ mode: 'async', input: { input: 'x' }, webhook: { url: `${hub.origin}/agents/callback/${TASK}`, secret: 's' } }),
      });
    try {
      for (let i = 0; i < MAX_SCHEDULED; i++) expect((await submit()).status).toBe(202);
      const busy = await submit();
      expect(busy.status).toBe(429);
      expect(busy.headers.get('retry-after')).toBe('1');
      expect(await busy.json()).toEqual({ error: { type: 'rate_limited', message: 'too many callbacks waiting to be sent; retry in a second' } });
      for (const go of waiting.splice(0)) go();
      await hub.arrived(MAX_SCHEDULED);
      // A send counts until the hub stand-in's answer is read, a moment after it arrived.
      let again = await submit();
      while (again.status === 429) again = await submit();
      expect(again.status).toBe(202);
    } finally {
      await close(server);
      await hub.close();
    }
  });
});

/** The sent list once the last task's sixth copy is in it: each send is listed once the hub stand-in has answered it. */
async function pollSent(
  read: () => Promise<{ sent: Array<{ taskId: string; status: number }> }>,
  last: string,
): Promise<Array<{ taskId: string; status: number }>> {
  for (;;) {
    const { sent } = await read();
    if (sent.filter((s) => s.taskId === last).length === 6) return sent;
  }
}
