/**
 * A provider that cannot be reached is named with why, as the system says it: nothing listening at
 * the API's host and port, or a certificate the hub does not trust, tell a wrong apiBaseUrl from a
 * provider that is down. Through a real MCP client.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { TLS_CERT, TLS_KEY } from '../auth/tls.js';

/** A loopback port nothing listens on (taken from the OS, then let go). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const read = { get: { description: 'g', method: 'GET', path: '/x', readOnly: true } };
const keyed = (title: string, apiBaseUrl: string) => ({
  type: 'custom',
  title,
  apiBaseUrl,
  auth: { type: 'apiKey', value: 'k' },
  api: { retries: 0 },
  tools: read,
});

describe('a provider that cannot be reached', () => {
  let hub: RunningHub;
  let client: FaceClient;
  let tls: Server;
  let port: number;

  beforeAll(async () => {
    port = await closedPort();
    tls = createHttpsServer({ cert: TLS_CERT, key: TLS_KEY }, (_req, res) => res.end('{}'));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    hub = await startHub({
      integrations: {
        down: keyed('Down', `http://127.0.0.1:${port}/api`),
        untrusted: keyed('Untrusted', `https://127.0.0.1:${(tls.address() as AddressInfo).port}/api`),
      },
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    tls?.closeAllConnections();
    await new Promise<void>((r) => tls.close(() => r()));
  });

  it('says nothing listens at the host and port', async () => {
    const r = await client.callTool('down__get', {});
    expect(r).toMatchObject({ isError: true, errorCode: 'provider_unreachable' });
    expect(r.content).toEqual([{ type: 'text', text: `Down could not be reached (connect ECONNREFUSED 127.0.0.1:${port})` }]);
  });

  it('says the certificate was not trusted', async () => {
    const r = await client.callTool('untrusted__get', {});
    expect(r).toMatchObject({ isError: true, errorCode: 'provider_unreachable' });
    expect(JSON.stringify(r.content)).toMatch(/Untrusted could not be reached \((self[- ]signed certificate|unable to verify)/);
  });
});
