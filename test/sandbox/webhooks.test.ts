import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxEvent } from '../../servers/sandbox/index.js';
import { T0, api, link, startSandbox, type Harness } from './harness.js';
import { startReceiver, verifyAt, type Receiver } from './receiver.js';

const APP_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

interface Hook {
  id: string;
  url: string;
  secret: string;
  created_at: string;
}

describe('sandbox webhooks', () => {
  let h: Harness | undefined;
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await h?.close();
    h = undefined;
    for (const r of receivers.splice(0)) await r.close();
  });

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }

  /** A sandbox whose retry waits move its own manual clock, recorded in `waits`. */
  async function sandbox(overrides: Parameters<typeof startSandbox>[0] = {}): Promise<Harness & { waits: number[] }> {
    const waits: number[] = [];
    const started = await startSandbox({
      rateLimit: { perSecond: 1000, burst: 1000 },
      sleep: async (ms) => {
        waits.push(ms);
        started.clock.advance(ms);
      },
      ...overrides,
    });
    h = started;
    return Object.assign(started, { waits });
  }

  const register = async (s: Harness, token: string, url: string): Promise<Hook> => {
    const res = await api(s, 'POST', '/webhooks', token, { url });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Hook;
  };
  const create = async (s: Harness, token: string, title: string): Promise<string> =>
    ((await (await api(s, 'POST', '/tickets', token, { title })).json()) as { id: string }).id;

  it('registers, lists and deletes endpoints per account; the secret is shown once', async () => {
    const s = await sandbox();
    const alice = (await link(s, 'alice')).access_token;
    const bob = (await link(s, 'bob')).access_token;
    const res = await api(s, 'POST', '/webhooks', alice, { url: 'https://hub.example/webhooks/sandbox' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const hook = (await res.json()) as Hook;
    expect(hook).toEqual({
      id: expect.stringMatching(/^wh_[\w-]{12}$/),
      url: 'https://hub.example/webhooks/sandbox',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      created_at: new Date(T0).toISOString(),
    });
    expect(res.headers.get('location')).toBe(`/sandbox/api/webhooks/${hook.id}`);
    expect(Buffer.from(hook.secret.slice(6), 'base64')).toHaveLength(32);

    expect(await (await api(s, 'GET', '/webhooks', alice)).json()).toEqual({ webhooks: [{ id: hook.id, url: hook.url, created_at: hook.created_at }] });
    expect(await (await api(s, 'GET', '/webhooks', bob)).json()).toEqual({ webhooks: [] });
    expect((await api(s, 'DELETE', `/webhooks/${hook.id}`, bob)).status).toBe(404);
    expect((await api(s, 'DELETE', `/webhooks/${hook.id}`, alice)).status).toBe(204);
    expect(await (await api(s, 'GET', '/webhooks', alice)).json()).toEqual({ webhooks: [] });
    const again = await api(s, 'DELETE', `/webhooks/${hook.id}`, alice);
    expect(await again.json()).toEqual({ error: { code: 'not_found', message: `no webhook ${hook.id}` } });

    for (let i = 0; i < 10; i++) await register(s, alice, `https://hub.example/${i}`);
    const over = await api(s, 'POST', '/webhooks', alice, { url: 'https://hub.example/11' });
    expect(over.status).toBe(409);
    expect(await over.json()).toEqual({ error: { code: 'limit_reached', message: 'an account may register 10 webhooks at most' } });
  });

  it.each([
    [{ url: 'ftp://hub.example/x' }, 'url: Invalid URL'],
    [{ url: 'not a url' }, 'url: Invalid URL'],
    [{ url: 'https://hub.example/x', events: ['*'] }, 'Unrecognized key: "events"'],
  ])('refuses a bad endpoint with 400: %j', async (body, message) => {
    const s = await sandbox();
    const alice = (await link(s, 'alice')).access_token;
    const res = await api(s, 'POST', '/webhooks', alice, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_request', message } });
    const reader = (await link(s, 'carol', { scope: 'read' })).access_token;
    expect((await api(s, 'POST', '/webhooks', reader, { url: 'https://hub.example/x' })).status).toBe(403);
  });

  it('delivers each change after the answer, signed so that the Standard Webhooks library verifies it', async () => {
    let release: () => void = () => {};
    const held = new Promise<number>((res) => (release = () => res(204)));
    const r = await receiver((_req, n) => (n === 1 ? held : 204));
    const s = await sandbox();
    const alice = (await link(s, 'alice')).access_token;
    const hook = await register(s, alice, r.url);

    // The receiver holds the first delivery open, and the API has answered all the same.
    const id = await create(s, alice, 'Printer on fire');
    await expect.poll(() => r.received.length).toBe(1);
    s.clock.advance(2_000);
    expect((await api(s, 'PATCH', `/tickets/${id}`, alice, { status: 'closed' })).status).toBe(200);
    expect((await api(s, 'DELETE', `/tickets/${id}`, alice)).status).toBe(204);
    release();
    await s.sandbox.flush();

    // Deliveries run concurrently, so they may arrive in any order; as a set they are the feed.
    const polled = (await (await api(s, 'GET', '/events', alice)).json()) as { events: SandboxEvent[] };
    const order = polled.events.map((e) => e.id);
    expect(r.events().sort((x, y) => order.indexOf(x.id) - order.indexOf(y.id))).toEqual(polled.events);
    for (const got of r.received) {
      expect(got.path).toBe('/hook');
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['webhook-id']).toMatch(/^msg_[\w-]{12}$/);
      expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      const at = Number(got.headers['webhook-timestamp']) * 1000;
      expect(verifyAt(hook.secret, got, at)).toEqual(JSON.parse(got.body));
      // Another secret, a changed body, or a receiver clock 6 minutes later: refused.
      expect(() => verifyAt(APP_SECRET, got, at)).toThrow('No matching signature found');
      expect(() => verifyAt(hook.secret, { ...got, body: got.body.replace('alice', 'alicf') }, at)).toThrow('No matching signature found');
      expect(() => verifyAt(hook.secret, got, at + 360_000)).toThrow('Message timestamp too old');
    }
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(3);
    expect(s.sandbox.deliveryStats()).toEqual({ delivered: 3, failed: 0, dropped: 0, attempts: 3 });

    // A deleted endpoint receives nothing more.
    expect((await api(s, 'DELETE', `/webhooks/${hook.id}`, alice)).status).toBe(204);
    await create(s, alice, 'after');
    await s.sandbox.flush();
    expect(r.received).toHaveLength(3);
  });

  it("keeps accounts apart: an account's endpoint gets only its events, the app endpoint gets everyone's", async () => {
    const [a, b, app] = [await receiver(), await receiver(), await receiver()];
    const s = await sandbox({ webhooks: { url: app.url, secret: APP_SECRET } });
    const alice = (await link(s, 'alice')).access_token;
    const bob = (await link(s, 'bob')).access_token;
    await register(s, alice, a.url);
    await register(s, bob, b.url);
    const made = [await create(s, alice, 'a1'), await create(s, bob, 'b1'), await create(s, alice, 'a2')];
    await s.sandbox.flush();

    const got = (x: Receiver): string[] => x.events().map((e) => `${e.account_id} ${e.data.ticket.id}`);
    expect(got(a).sort()).toEqual([`alice ${made[0]}`, `alice ${made[2]}`].sort());
    expect(got(b)).toEqual([`bob ${made[1]}`]);
    expect(got(app).sort()).toEqual([`alice ${made[0]}`, `bob ${made[1]}`, `alice ${made[2]}`].sort());
    for (const one of app.received) expect(verifyAt(APP_SECRET, one, s.clock.now())).toEqual(JSON.parse(one.body));
    // The app endpoint and the account's endpoint carry one event under different delivery ids.
    const appIds = new Set(app.received.map((x) => x.headers['webhook-id']));
    for (const got of a.received) expect(appIds.has(got.headers['webhook-id']!)).toBe(false);
  });

  it('retries a 503 with the same webhook-id, re-signed at each attempt, on the configured waits', async () => {
    const r = await receiver((_req, n) => (n < 3 ? 503 : 200));
    const s = await sandbox({ webhooks: { url: r.url, secret: APP_SECRET } });
    const alice = (await link(s, 'alice')).access_token;
    await create(s, alice, 'flaky');
    await s.sandbox.flush();

    expect(s.waits).toEqual([1_000, 5_000]);
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    const stamps = r.received.map((x) => Number(x.headers['webhook-timestamp']));
    expect(stamps).toEqual([T0 / 1000, T0 / 1000 + 1, T0 / 1000 + 6]);
    for (const [i, got] of r.received.entries()) expect(verifyAt(APP_SECRET, got, stamps[i]! * 1000)).toEqual(JSON.parse(got.body));
    expect(s.sandbox.deliveryStats()).toEqual({ delivered: 1, failed: 0, dropped: 0, attempts: 3 });
  });

  it('gives up after the last attempt on 5xx, and at once on a 4xx or a redirect', async () => {
    const status = new Map([
      ['down', 500],
      ['gone', 410],
      ['moved', 301],
    ]);
    const r = await receiver(async (req) => status.get((JSON.parse(req.body) as { data: { ticket: { title: string } } }).data.ticket.title)!);
    const s = await sandbox({ webhooks: { url: r.url, secret: APP_SECRET } });
    const alice = (await link(s, 'alice')).access_token;
    for (const title of status.keys()) await create(s, alice, title);
    await s.sandbox.flush();
    const titles = r.events().map((e) => e.data.ticket.title);
    expect(titles.filter((t) => t === 'down')).toHaveLength(3);
    expect(titles.filter((t) => t === 'gone')).toHaveLength(1);
    expect(titles.filter((t) => t === 'moved')).toHaveLength(1);
    expect(s.sandbox.deliveryStats()).toEqual({ delivered: 0, failed: 3, dropped: 0, attempts: 5 });
  });

  it('retries a network error and a timeout', async () => {
    // A port held for the test that resets every connection: a receiver closed before would free
    // its port, which another test file running alongside may take and answer on.
    const dead = createServer((socket) => socket.resetAndDestroy());
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/hooks`;
    const s1 = await sandbox({ webhooks: { url: deadUrl, secret: APP_SECRET }, webhookRetryDelaysMs: [10, 20, 30] });
    await create(s1, (await link(s1, 'alice')).access_token, 'nobody home');
    await s1.sandbox.flush();
    expect(s1.waits).toEqual([10, 20, 30]);
    expect(s1.sandbox.deliveryStats()).toEqual({ delivered: 0, failed: 1, dropped: 0, attempts: 4 });
    await s1.close();
    await new Promise<void>((r) => dead.close(() => r()));

    // The first attempt never gets an answer; the retry does.
    const slow = await receiver((_req, n) => (n === 1 ? new Promise<number>(() => {}) : 204));
    const s2 = await sandbox({ webhooks: { url: slow.url, secret: APP_SECRET }, webhookTimeoutMs: 200 });
    await create(s2, (await link(s2, 'alice')).access_token, 'slow');
    await s2.sandbox.flush();
    expect(slow.received).toHaveLength(2);
    expect(slow.received[0]!.headers['webhook-id']).toBe(slow.received[1]!.headers['webhook-id']);
    expect(s2.sandbox.deliveryStats()).toEqual({ delivered: 1, failed: 0, dropped: 0, attempts: 2 });
  });
});
