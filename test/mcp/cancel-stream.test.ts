import type { ChildProcess } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAskingHttp } from '../helpers/asking.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * A call cancelled while a 2025-era HTTP server runs it: the server never answers a cancelled
 * request and keeps that POST's answer stream open, so the hub closes it once it has sent the
 * cancel. Left open, each cancel held one of the pool's sockets, and after 256 of them every call
 * to that server waited for a socket for good.
 */
describe('a cancelled call to a 2025-era HTTP server', () => {
  let hub: RunningHub;
  let downstream: { url: string; child: ChildProcess };
  let bobToken: string;

  beforeAll(async () => {
    downstream = await spawnAskingHttp('--v1-http');
    hub = await startHub({ mcpServers: { v1h: { url: downstream.url } } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    downstream?.child.kill('SIGTERM');
  });

  /** POSTs the server still holds open (the asking server counts them). */
  const openPosts = async () => Number(await (await fetch(new URL('/open-posts', downstream.url))).text());

  async function connect(token: string, era: 'legacy' | 'auto'): Promise<Client> {
    const c = new Client({ name: `cancel-${era}`, version: '1.0.0' }, { versionNegotiation: { mode: era } });
    await c.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return c;
  }

  it('leaves no answer stream open at the server, for callers of both eras side by side', async () => {
    const [alice, bob] = await Promise.all([connect(hub.token, 'legacy'), connect(bobToken, 'auto')]);
    try {
      await eventually(async () => ((await openPosts()) === 0 ? true : undefined));
      const cancelled = [alice, bob].map(async (c) => {
        const abort = new AbortController();
        // Held far longer than the test: only the cancel can end its stream in time.
        const call = c.callTool({ name: 'v1h__hold', arguments: { ms: 60_000 } }, { signal: abort.signal, onprogress: () => abort.abort('enough') });
        await expect(call).rejects.toBeDefined();
      });
      await Promise.all(cancelled);
      await eventually(async () => ((await openPosts()) === 0 ? true : undefined), 5_000, 50);
      // The server still answers both callers afterwards.
      for (const c of [alice, bob]) expect(await c.callTool({ name: 'v1h__ping_back', arguments: { n: 7 } })).toMatchObject({ content: [{ text: 'pong 7' }] });
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
