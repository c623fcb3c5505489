/**
 * `server.allowedHosts` names the Host values a proxy sends. Host names are case-insensitive
 * (RFC 9110 §4.2.3), and an operator copies them as they come (`Hub.Example.com`): the hub accepts
 * such a name whatever its case in the config or in the request, and still refuses every other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub({ server: { allowedHosts: ['Hub.Example.com', 'proxy.example:8443'] } });
});
afterAll(() => hub?.stop());

const healthz = (host: string) => rawRequest({ port: hub.port, path: '/healthz', method: 'GET', headers: { host } });

describe('server.allowedHosts', () => {
  it('accepts a listed host name in any case, in the config and in the request', async () => {
    for (const host of ['hub.example.com', 'Hub.Example.com', 'HUB.EXAMPLE.COM', 'proxy.example:8443', 'Proxy.Example:8443']) {
      const res = await healthz(host);
      expect([host, res.status]).toEqual([host, 200]);
    }
  });

  it('still refuses a host that is not listed, or a listed one on another port', async () => {
    for (const host of ['evil.example', 'hub.example.com.evil.example', 'proxy.example:8444', 'proxy.example']) {
      const res = await healthz(host);
      expect([host, res.status, JSON.parse(res.body).error.code]).toEqual([host, 403, 'host_rejected']);
    }
  });
});
