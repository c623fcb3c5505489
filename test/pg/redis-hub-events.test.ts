/**
 * Two hubs sharing one store and one Redis (issue 13, scope 2): what happens on replica A reaches
 * the clients of replica B through the Redis fan-out alone. Both hubs' store polls (connections
 * and revocations) are set to ten minutes, so nothing here can arrive by them.
 */
import { Client, StreamableHTTPClientTransport, type McpSubscription } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { type OidcServer, startOidcServer } from '../fakes/oidc.js';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually } from '../helpers/hub.js';
import { rawSessionWithStream } from '../helpers/raw-mcp.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';
import { callbackOf, linkIn, linkWithBrowser, TOOL } from '../oauth/support.js';
import { type Pair, readyz, startPair } from './redis-hub-pair.js';

const TEN_MINUTES = 600_000;

async function modernListener(url: string, token: string): Promise<{ client: Client; sub: McpSubscription }> {
  const client = new Client({ name: 'redis-hub', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  return { client, sub: await client.listen({ toolsListChanged: true }) };
}

describe.skipIf(redisSkip !== undefined)('two hubs on one Redis: events cross replicas', () => {
  let redis: TestRedis;
  let oidc: OidcServer;
  let pair: Pair;
  const clients: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    oidc = await startOidcServer();
    pair = await startPair(
      { integrations: { acme: oidc.integration() }, redis: { url: redis.url, keyPrefix: testPrefix() } },
      { storePolls: { connectionsMs: TEN_MINUTES, revocationsMs: TEN_MINUTES } },
    );
    for (const h of [pair.a, pair.b]) await oidc.allowRedirectUri(callbackOf(h.port));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await pair?.close();
    await oidc?.close();
    await redis?.stop();
  });

  async function token(user: string): Promise<{ token: string; id: string }> {
    const { token, record } = await pair.a.hub.tokens.create({ user });
    return { token, id: record.id };
  }

  async function client(kind: 'v2-legacy' | 'v2-auto', url: string, tok: string): Promise<FaceClient> {
    const c = await connectClient(kind, { transport: 'http', url, token: tok });
    clients.push(c);
    return c;
  }

  it('both replicas report Redis ready', async () => {
    for (const h of [pair.a, pair.b]) expect(await readyz(h.base)).toMatchObject({ status: 200, body: { status: 'ready', redis: { ok: true } } });
  });

  it("a link on A: alice's 2025 session and 2026 listen stream on B get tools/list_changed, bob's on B nothing, and B lists her tool as linked", async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const onB = {
      aliceLegacy: await client('v2-legacy', pair.b.url, alice.token),
      aliceModern: await client('v2-auto', pair.b.url, alice.token),
      bobLegacy: await client('v2-legacy', pair.b.url, bob.token),
      bobModern: await client('v2-auto', pair.b.url, bob.token),
    };
    expect(onB.aliceModern.protocolVersion).toBe('2026-07-28');
    expect(onB.aliceLegacy.protocolVersion).toBe('2025-11-25');
    // Before: B lists alice's tool as needing her account.
    const lister = await modernListener(pair.b.url, alice.token);
    clients.push(lister.client);
    const hint = async () => (await lister.client.listTools()).tools.find((t) => t.name === TOOL)?.description ?? '';
    expect(await hint()).toContain('Needs your');

    const linking = await client('v2-auto', pair.a.url, alice.token);
    await linkWithBrowser(new Browser(), linkIn(await linking.callTool(TOOL, {})), 'alice@acme');
    const linkedAt = Date.now();

    await eventually(() => onB.aliceLegacy.toolListChanges > 0 && onB.aliceModern.toolListChanges > 0, 5_000);
    const took = Date.now() - linkedAt;
    // The tool list as B builds it now, from its own connection states (refreshed by the event).
    expect(await hint()).not.toContain('Needs your');
    expect((await onB.aliceLegacy.callTool(TOOL, {})).isError).toBe(false);
    // Bob's streams: a round trip on each after alice's notifications arrived, and still nothing.
    await onB.bobLegacy.listPage();
    await onB.bobModern.listPage();
    expect({ bobLegacy: onB.bobLegacy.toolListChanges, bobModern: onB.bobModern.toolListChanges }).toEqual({ bobLegacy: 0, bobModern: 0 });
    // One notification each: the change arrived once, not also bounced back or re-announced.
    expect({ legacy: onB.aliceLegacy.toolListChanges, modern: onB.aliceModern.toolListChanges }).toEqual({ legacy: 1, modern: 1 });
    expect(took).toBeLessThan(5_000);
  });

  it("a token revoked on A closes its 2025 session stream and 2026 listen stream on B at once (the poll is ten minutes); another token's stay open", async () => {
    const carol = await token('carol');
    const dave = await token('dave');
    const raw = await rawSessionWithStream(pair.b.url, carol.token);
    const modern = await modernListener(pair.b.url, carol.token);
    const other = await rawSessionWithStream(pair.b.url, dave.token);
    clients.push(modern.client);

    const revokedAt = Date.now();
    expect(await pair.a.hub.tokens.revoke(carol.id)).toBe(true);
    // Bounded here, not by the test's timeout: without the event they would stay open ten minutes.
    const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 3_000))]);
    expect(await within(raw.ended)).toBe('ended');
    expect(await within(modern.sub.closed)).toBe('remote');
    expect(Date.now() - revokedAt).toBeLessThan(3_000);
    const stillOpen = await Promise.race([other.ended, new Promise<'open'>((r) => setTimeout(() => r('open'), 200))]);
    expect(stillOpen).toBe('open');
  });
});
