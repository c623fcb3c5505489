/**
 * A provider that drops the connection in the middle of its answer's body (Content-Length 100,
 * 5 bytes, then a reset), or sends a gzip body that does not inflate: a dropped connection, as one
 * dropped before the headers — provider_unreachable (retryable), and a GET is tried again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createProviderClient, type ProviderTarget } from '../../src/providers/client.js';
import { noCredentials } from '../../src/providers/credentials.js';

let server: Server;
let base: string;
/** Requests per path, and how many of them get a cut body. */
const hits = new Map<string, number>();
let cut = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/api/gzip') {
      // Not gzip at all, though it says so.
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': '12' }).end('not gzip at all'.slice(0, 12));
      return;
    }
    if (cut-- > 0) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"a":');
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
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

const sleeps: number[] = [];
const client = createProviderClient({ clock: manualClock(), sleep: async (ms) => void sleeps.push(ms), limits: { timeoutMs: 5_000, retries: 2 } });
const target = (): ProviderTarget => ({ label: 'Acme', apiBaseUrl: `${base}/api`, credentials: noCredentials, paceKey: 'acme:app' });
const bound = () => client.bind(target());

describe('a body cut off by a dropped connection', () => {
  it('a GET is tried again, and the whole answer of the next attempt is the result', async () => {
    cut = 1;
    const res = await bound()('/x');
    expect({ status: res.status, body: await res.text(), hits: hits.get('/api/x') }).toEqual({ status: 200, body: '{"ok":true}', hits: 2 });
  });

  it('cut every time: provider_unreachable (retryable) after the retries', async () => {
    cut = 10;
    await expect(bound()('/x')).rejects.toMatchObject({ code: 'provider_unreachable', message: 'Acme dropped the connection while sending its answer' });
    expect(hits.get('/api/x')).toBe(3);
  });

  it('a gzip body that does not inflate is the same', async () => {
    await expect(bound()('/gzip')).rejects.toMatchObject({ code: 'provider_unreachable' });
    expect(hits.get('/api/gzip')).toBe(3);
  });

  it('a write is sent once; its cut body fails with provider_unreachable when read', async () => {
    cut = 1;
    const res = await bound()('/x', { method: 'POST', body: '{}' });
    await expect(res.text()).rejects.toMatchObject({ code: 'provider_unreachable' });
    expect(hits.get('/api/x')).toBe(1);
  });
});
