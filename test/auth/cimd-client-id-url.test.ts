/**
 * A client_id that is an HTTPS URL names the client's metadata document (SEP-991). The draft
 * (draft-ietf-oauth-client-id-metadata-document §3) says such a URL MUST contain a path component:
 * `https://host:port` with none is an invalid client, refused before the hub opens any connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { REDIRECT, authorizeUrl, pkce, tokenRequest } from './support.js';

describe('a client_id URL without a path', () => {
  let hub: RunningHub;
  let base: string;
  /** Where the hub would fetch from: counts the connections it opens, and ends each. */
  let listener: Server;
  let connections = 0;
  let host: string;
  beforeAll(async () => {
    listener = createServer((s: Socket) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(listener.address() as AddressInfo).port}`;
    // Loopback allowed, so nothing but the missing path stands in the way of a fetch.
    hub = await startHub({ auth: { cimd: { allowLoopback: true } } });
    base = `http://127.0.0.1:${hub.port}`;
  });
  afterAll(async () => {
    await hub?.stop();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });

  it('is an invalid client at /authorize and /token, with nothing fetched; with a path it is fetched', async () => {
    for (const clientId of [`https://${host}`, `https://${host}?v=1`]) {
      const res = await fetch(authorizeUrl(base, clientId, pkce()), { redirect: 'manual' });
      const page = await res.text();
      expect({ clientId, status: res.status, location: res.headers.get('location') }).toEqual({ clientId, status: 400, location: null });
      expect(page).toContain('<b>error</b>: invalid_client');
      expect(page).toContain('must name its metadata document by a path');
    }
    const token = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: `https://${host}`,
      code: 'x',
      redirect_uri: REDIRECT,
      code_verifier: 'v'.repeat(43),
    });
    expect(token).toEqual({
      status: 400,
      body: { error: 'invalid_client', error_description: expect.stringContaining('must name its metadata document by a path') },
    });
    expect(connections).toBe(0);

    // The root path is a path: that document is fetched (and fails here, the listener hangs up).
    const rooted = await fetch(authorizeUrl(base, `https://${host}/`, pkce()), { redirect: 'manual' });
    expect(await rooted.text()).toContain('client_id metadata document fetch failed');
    expect(connections).toBe(1);
  });
});
