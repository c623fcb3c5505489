/**
 * A log message a server sends during a prompts/get or a resources/read reaches the client that
 * made the request, as it does from the server directly, for a 2025 session and a 2026-07-28
 * client (at its request's logLevel) alike, and not a second user's client beside it. Before, such
 * a request was not in flight as a call is, so its messages reached no one. Real hub on loopback,
 * a shared 1.x SDK server over stdio, the v2 SDK client.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startHub, type RunningHub } from '../helpers/hub.js';

const SERVER = join(ROOT, 'dist/test/fixtures/progress-reads-server.js');

describe('log messages of a prompt or a resource read through the hub', () => {
  let hub: RunningHub;
  let bobToken: string;
  beforeAll(async () => {
    hub = await startHub({ mcpServers: { pr: { command: process.execPath, args: [SERVER] } } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  }, 30_000);
  afterAll(async () => {
    await hub?.stop();
  });

  async function connect(era: 'legacy' | '2026-07-28', token: string): Promise<{ client: Client; logs: unknown[] }> {
    const client = new Client({ name: 'logs', version: '1.0.0' }, { versionNegotiation: { mode: era === 'legacy' ? 'legacy' : { pin: era } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const logs: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => void logs.push(n.params.data));
    return { client, logs };
  }

  for (const era of ['legacy', '2026-07-28'] as const) {
    it(`reaches the ${era} client that made the request, and not another user's`, async () => {
      const alice = await connect(era, hub.token);
      const bob = await connect(era, bobToken);
      // A 2026-07-28 request carries the level it wants logs at; a 2025 session's default lets all through.
      const level = era === 'legacy' ? {} : { _meta: { 'io.modelcontextprotocol/logLevel': 'info' } };
      try {
        await alice.client.getPrompt({ name: 'pr__steps', ...level });
        await alice.client.readResource({ uri: 'progress://read', ...level });
        expect(alice.logs).toEqual(['the prompt says', 'the read says']);
        expect(bob.logs).toEqual([]);
      } finally {
        await alice.client.close();
        await bob.client.close();
      }
    });
  }
});
