import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * `server.limits.requestsPerIdentity`: one token holder's requests in flight are bounded, so a
 * flood of long calls from one user cannot take every connection the hub has (maxConnections) and
 * lock everyone else out. Beyond it: HTTP 429, JSON-RPC -32029 naming the setting.
 */
describe('requests in flight per identity', () => {
  let h: RunningHub;
  const open: Client[] = [];

  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio() }, server: { limits: { requestsPerIdentity: 3 } } });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await h?.stop();
  });

  async function client(token: string, era: 'legacy' | 'auto'): Promise<Client> {
    const c = new Client({ name: 'limits', version: '1.0.0' }, { versionNegotiation: { mode: era } });
    await c.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    open.push(c);
    return c;
  }

  const started = async (c: Client): Promise<string[]> =>
    JSON.parse(
      ((await c.callTool({ name: 'fx__started_ids', arguments: {} })) as CallToolResult).content.map((x) => (x.type === 'text' ? x.text : '')).join(''),
    ) as string[];
  const echo = async (c: Client, text: string) => ((await c.callTool({ name: 'fx__echo', arguments: { text } })) as CallToolResult).content;

  for (const era of ['auto', 'legacy'] as const) {
    it(`${era === 'auto' ? '2026-07-28' : '2025-11-25'}: a fourth request of one identity is refused with 429 while another identity is served; a finished one makes room`, async () => {
      const alice = await client((await h.hub.tokens.create({ user: `alice-${era}` })).token, era);
      const bob = await client((await h.hub.tokens.create({ user: `bob-${era}` })).token, era);
      const stops = [0, 1, 2].map(() => new AbortController());
      // The first ends by itself in a moment (a cancelled 2025 call's stream stays open, quiet, for
      // a while as the SDK's does, and counts as long as it does); the other two run on.
      const calls = stops.map((stop, i) =>
        alice.callTool({ name: 'fx__slow', arguments: { ms: i === 0 ? 2_000 : 600_000, id: `${era}-${i}` } }, { signal: stop.signal }).catch((e: unknown) => e),
      );
      // Bob's requests are his own: they see alice's three calls under way.
      await eventually(async () => (await started(bob)).filter((id) => id.startsWith(`${era}-`)).length === 3);
      await expect(echo(alice, 'fourth')).rejects.toThrow(
        /Too many requests in flight for this identity: the limit is 3 \(server\.limits\.requestsPerIdentity\)/,
      );
      expect(await echo(bob, 'bob is served')).toEqual([{ type: 'text', text: 'bob is served' }]);
      expect(await calls[0]).toMatchObject({ content: [{ type: 'text', text: 'finished' }] });
      expect(await eventually(async () => echo(alice, 'room again').catch(() => undefined))).toEqual([{ type: 'text', text: 'room again' }]);
      for (const s of stops) s.abort();
      await Promise.all(calls);
    });
  }
});
