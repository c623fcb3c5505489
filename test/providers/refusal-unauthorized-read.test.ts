/**
 * With `refusal.unauthorized` the provider client reads a 2xx JSON answer whole to see whether it
 * refuses the token (Slack's `{"ok":false,"error":"invalid_auth"}` with HTTP 200). A connection
 * dropped in the middle of that body is what it is without the list: provider_unreachable naming
 * the dropped answer (a GET tried again), never "could not be reached", which says nothing arrived.
 * A key from config has nothing to renew: its refusal is the answer, sent once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { refusalSchema } from '../../src/definition/refusal.js';
import { createProviderClient, type ProviderTarget } from '../../src/providers/client.js';
import { apiKeyCredentials } from '../../src/providers/credentials.js';

let server: Server;
let base: string;
const hits = new Map<string, number>();
let cut = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (cut-- > 0) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ok":');
      setTimeout(() => res.destroy(), 20);
      return;
    }
    const body = path === '/api/dead' ? { ok: false, error: 'invalid_auth' } : { ok: true };
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  hits.clear();
  cut = 0;
});

const refusal = refusalSchema.parse({ okAt: 'ok', messageAt: 'error', unauthorized: ['invalid_auth'] });
const client = createProviderClient({ clock: manualClock(), sleep: async () => {}, limits: { timeoutMs: 5_000, retries: 2 } });
const target = (): ProviderTarget => ({
  label: 'Chat',
  apiBaseUrl: `${base}/api`,
  credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Bearer ', value: 'xoxb-1' }),
  paceKey: 'chat:app',
  refusal,
});

describe('a 2xx answer read for a refused token', () => {
  it('a write whose body is cut: provider_unreachable saying the answer was dropped', async () => {
    cut = 1;
    await expect(client.bind(target())('/chat.postMessage', { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: 'provider_unreachable',
      message: 'Chat dropped the connection while sending its answer',
    });
    expect(hits.get('/api/chat.postMessage')).toBe(1);
  });

  it('a read whose body is cut is tried again, and the next whole answer is the result', async () => {
    cut = 1;
    const res = await client.bind(target())('/conversations.info');
    expect({ status: res.status, body: await res.text(), hits: hits.get('/api/conversations.info') }).toEqual({ status: 200, body: '{"ok":true}', hits: 2 });
  });

  it("a key's invalid_auth is the answer, sent once (nothing to renew)", async () => {
    const res = await client.bind(target())('/dead', { method: 'POST', body: '{}' });
    expect({ status: res.status, body: await res.text(), hits: hits.get('/api/dead') }).toEqual({
      status: 200,
      body: '{"ok":false,"error":"invalid_auth"}',
      hits: 1,
    });
  });
});
