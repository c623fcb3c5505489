import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../servers/sandbox/delivery.js';
import { CLIENT, OTHER, api, link, startSandbox, type Harness } from './harness.js';
import { startReceiver, type Receiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('sandbox webhook drop share', () => {
  let h: Harness;
  let r: Receiver;
  let alice: string;
  const setDrop = (body: unknown, authorization: string | null = basic(CLIENT.id, CLIENT.secret)): Promise<Response> =>
    fetch(`${h.issuer}/admin/webhooks/drop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
      body: JSON.stringify(body),
    });
  const changes = async (n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(((await (await api(h, 'POST', '/tickets', alice, { title: `t${i}` })).json()) as { id: string }).id);
    await h.sandbox.flush();
    return ids;
  };

  beforeEach(async () => {
    r = await startReceiver();
    h = await startSandbox({ rateLimit: { perSecond: 1000, burst: 1000 }, webhooks: { url: r.url, secret: SECRET }, drop: 0.3, dropSeed: 42 });
    alice = (await link(h, 'alice')).access_token;
  });
  afterEach(async () => {
    await h.close();
    await r.close();
  });

  it('drops about 30 % with drop 0.3, the same deliveries for the same seed, and the feed still has every change', async () => {
    const ids = await changes(100);
    // mulberry32(42): 32 of its first 100 draws are below 0.3 (2 of the first 10).
    expect(h.sandbox.deliveryStats()).toEqual({ delivered: 68, failed: 0, dropped: 32, attempts: 68 });
    expect(r.received).toHaveLength(68);
    const draw = mulberry32(42);
    const kept = ids.filter(() => draw() >= 0.3);
    expect(
      r
        .events()
        .map((e) => e.data.ticket.id)
        .sort(),
    ).toEqual(kept.sort());
    const feed = (await (await api(h, 'GET', '/events?limit=100', alice)).json()) as { events: unknown[] };
    expect(feed.events).toHaveLength(100);
  });

  it('changes the share at run time through the admin route, with a client’s credentials by HTTP Basic', async () => {
    const all = await setDrop({ share: 1 });
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ share: 1 });
    await changes(5);
    expect(r.received).toHaveLength(0);

    // Either registered client may switch it.
    expect((await setDrop({ share: 0 }, basic(OTHER.id, OTHER.secret))).status).toBe(200);
    await changes(5);
    expect(r.received).toHaveLength(5);
    expect(h.sandbox.deliveryStats()).toEqual({ delivered: 5, failed: 0, dropped: 5, attempts: 5 });
  });

  it.each([
    ['no credentials', null],
    ['a wrong secret', basic(CLIENT.id, 'nope')],
    ['an unknown client', basic('stranger', CLIENT.secret)],
    ['a bearer token', 'Bearer sbx_at_x'],
  ])('answers 401 to %s and keeps the share', async (_what, authorization) => {
    const res = await setDrop({ share: 1 }, authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="sandbox", charset="UTF-8"');
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'client credentials by HTTP Basic are required' } });
    await changes(10);
    expect(h.sandbox.deliveryStats().dropped).toBe(2);
  });

  it.each([
    [{ share: 1.5 }, 'share: Too big: expected number to be <=1'],
    [{ share: '0.3' }, 'share: Invalid input: expected number, received string'],
    [{}, 'share: Invalid input: expected number, received undefined'],
  ])('answers 400 to a bad share %j', async (body, message) => {
    const res = await setDrop(body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_request', message } });
  });

  it('refuses a bad app endpoint secret at start', async () => {
    const start = (secret: string) => () => startSandbox({ webhooks: { url: r.url, secret } });
    await expect(start('whsec_dG9vIHNob3J0')()).rejects.toThrow('the key of a webhook secret is 24 to 64 bytes');
    await expect(start(Buffer.alloc(32).toString('base64'))()).rejects.toThrow('a webhook secret is whsec_ followed by a base64 key');
  });
});
