/**
 * A hub on port 80 (a container's `-p 80:80`, a host where nothing else serves http) is reached as
 * `http://localhost/mcp`: clients leave the default port out of Host, and browsers always leave it
 * out of Origin (RFC 6454 §6.1). The Host/Origin guard of such a hub takes those forms, for every
 * name it takes with the port, and still refuses other names. The guard is served over real HTTP on
 * a port of the OS's choosing, judged as the hub on port 80 judges (nothing here may bind port 80).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { exposure, hostAndOriginGuard } from '../../src/http/security.js';
import { rawRequest } from '../helpers/raw-http.js';

let server: Server;
let port: number;
beforeAll(async () => {
  const config = configSchema.parse({ server: { host: '127.0.0.1', port: 80 } });
  const guard = hostAndOriginGuard(exposure(config, 80));
  server = createServer((req, res) => guard(req, res, () => res.end('ok')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const ask = (headers: Record<string, string>) => rawRequest({ port, path: '/healthz', method: 'GET', headers });

describe('a hub on port 80', () => {
  it('takes its loopback names without the port in Host, as clients send them, and with it', async () => {
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'localhost:80', '127.0.0.1:80']) {
      const res = await ask({ host });
      expect([host, res.status, res.body]).toEqual([host, 200, 'ok']);
    }
  });

  it('takes the Origin a browser sends for a page on it, which never names port 80', async () => {
    for (const origin of ['http://localhost', 'http://127.0.0.1', 'http://[::1]']) {
      const res = await ask({ host: 'localhost', origin });
      expect([origin, res.status]).toEqual([origin, 200]);
    }
  });

  it('still refuses other names and ports', async () => {
    for (const [host, origin] of [
      ['evil.example', undefined],
      ['localhost:8080', undefined],
      ['localhost', 'http://evil.example'],
      ['localhost', 'https://localhost'],
      ['localhost', 'http://localhost:8080'],
    ] as const) {
      const res = await ask({ host, ...(origin === undefined ? {} : { origin }) });
      expect([host, origin, res.status]).toEqual([host, origin, 403]);
    }
  });
});
