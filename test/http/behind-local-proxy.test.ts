/**
 * A hub bound to loopback behind a reverse proxy on the same machine (the README's nginx setup) is
 * reachable from anywhere through the proxy. What it tells only callers on its own machine — the
 * data dir in /healthz, the sources, store and pollers in /readyz — it tells no caller the proxy
 * forwarded (a forwarding header, or the public name in Host), unless that caller shows a metrics
 * or admin token; a caller on the machine itself still sees all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';

let hub: RunningHub;
let metricsToken: string;
beforeAll(async () => {
  hub = await startHub({ server: { publicUrl: 'https://hub.example.test' } });
  metricsToken = (await hub.hub.tokens.create({ user: 'ops', scopes: ['metrics'] })).token;
});
afterAll(() => hub?.stop());

const get = async (path: string, headers: Record<string, string>) => {
  const res = await rawRequest({ port: hub.port, path, method: 'GET', headers: { host: `127.0.0.1:${hub.port}`, ...headers } });
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
};

const forwarded: Array<[string, Record<string, string>]> = [
  ['the public name in Host', { host: 'hub.example.test' }],
  ['X-Forwarded-For', { 'x-forwarded-for': '203.0.113.9' }],
  ['Forwarded', { forwarded: 'for=203.0.113.9' }],
  ['X-Real-IP', { 'x-real-ip': '203.0.113.9' }],
];

describe('a loopback hub behind a proxy on its machine', () => {
  it('names its data dir and /readyz details to a caller on this machine', async () => {
    const health = await get('/healthz', {});
    expect(health.body['hub']).toEqual({ linkKeyId: expect.any(String), dataDir: hub.dataDir });
    const ready = await get('/readyz', {});
    expect(ready.body).toHaveProperty('sources');
  });

  it('keeps them from a caller the proxy forwarded', async () => {
    for (const [how, headers] of forwarded) {
      const health = await get('/healthz', headers);
      expect([how, health.status, health.body['hub']]).toEqual([how, 200, { linkKeyId: expect.any(String) }]);
      const ready = await get('/readyz', headers);
      expect([how, ready.status, ready.body]).toEqual([how, 200, { status: 'ready' }]);
    }
  });

  it('shows /readyz details to a forwarded caller with a metrics token', async () => {
    const ready = await get('/readyz', { 'x-forwarded-for': '203.0.113.9', authorization: `Bearer ${metricsToken}` });
    expect(ready.body).toHaveProperty('sources');
  });
});
