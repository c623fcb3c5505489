/**
 * Progress a client asks of a prompts/get or a resources/read (a progress token on the request,
 * which the spec allows on any request) reaches it through the hub as it does from the server
 * directly, under the client's own token, for a 2025 session and a 2026-07-28 client alike; a
 * second client side by side, which asked for none, gets none. Real hub on loopback, a 1.x SDK
 * server over stdio, the v2 SDK client.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';

const SERVER = join(ROOT, 'dist/test/fixtures/progress-reads-server.js');

describe('progress of a prompt or a resource read through the hub', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ mcpServers: { pr: { command: process.execPath, args: [SERVER] } } });
  }, 30_000);
  afterAll(async () => {
    await hub?.stop();
  });

  async function connect(era: 'legacy' | '2026-07-28'): Promise<{ client: Client; seen: string[] }> {
    const client = new Client({ name: 'progress', version: '1.0.0' }, { versionNegotiation: { mode: era === 'legacy' ? 'legacy' : { pin: era } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    const seen: string[] = [];
    // Any progress a client did not ask for would show here.
    client.fallbackNotificationHandler = async (n) => void seen.push(n.method);
    return { client, seen };
  }

  for (const era of ['legacy', '2026-07-28'] as const) {
    it(`reaches a ${era} client that asked for it, and not the one beside it`, async () => {
      const asker = await connect(era);
      const other = await connect(era);
      try {
        const prompt: number[] = [];
        const read: number[] = [];
        const [got, quiet] = await Promise.all([
          asker.client.getPrompt({ name: 'pr__steps' }, { onprogress: (p) => void prompt.push(p.progress) }),
          other.client.getPrompt({ name: 'pr__steps' }),
        ]);
        expect(got.messages[0]?.content).toEqual({ type: 'text', text: 'steps done' });
        expect(quiet.messages[0]?.content).toEqual({ type: 'text', text: 'steps done' });
        const contents = await asker.client.readResource({ uri: 'progress://read' }, { onprogress: (p) => void read.push(p.progress) });
        expect(contents.contents[0]).toMatchObject({ text: 'read done' });
        expect(prompt).toEqual([1, 2]);
        expect(read).toEqual([1, 2]);
        expect(other.seen.filter((m) => m === 'notifications/progress')).toEqual([]);
      } finally {
        await asker.client.close();
        await other.client.close();
      }
    });
  }
});
