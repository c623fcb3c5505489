/**
 * The authorization server behind a TLS-terminating proxy (`server.publicUrl` https, the listener
 * plain http): whatever Host, X-Forwarded-Host and X-Forwarded-Proto a request arrives with — a
 * client's own, passed through by a proxy that does not overwrite them, or none at all, as the
 * README's nginx example sends — every URL the library builds is under the public URL, and its
 * cookies are Secure.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, pkce, register } from './support.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET as a proxy forwards it: any Host and forwarded headers (fetch will not send another Host). */
function forwarded(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every absolute URL a metadata document lists. */
function urlsOf(body: string): string[] {
  return Object.values(JSON.parse(body) as Record<string, unknown>).filter((v): v is string => typeof v === 'string' && /^[a-z]+:\/\//i.test(v));
}

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'jwks_uri'] as const;

describe('the authorization server behind a TLS proxy', () => {
  let hub: RunningHub;
  let prefixed: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ mcpServers: { files: fixtureStdio() }, server: { publicUrl: 'https://hub.example/' } });
    prefixed = await startHub({ mcpServers: { files: fixtureStdio() }, server: { publicUrl: 'https://proxy.example/hub/' } });
  });
  afterAll(async () => {
    await hub?.stop();
    await prefixed?.stop();
  });

  it('lists every endpoint under the public URL whatever X-Forwarded-Host and -Proto say, and the metadata is never cached', async () => {
    const sent: Record<string, string>[] = [
      { host: 'hub.example' },
      { host: 'hub.example', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
      { host: `127.0.0.1:${hub.port}`, 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example, hub.example' },
    ];
    for (const headers of sent)
      for (const doc of ['oauth-authorization-server', 'openid-configuration']) {
        const res = await forwarded(hub.port, `/.well-known/${doc}`, headers);
        expect({ headers, doc, status: res.status, cacheControl: res.headers['cache-control'] }).toEqual({
          headers,
          doc,
          status: 200,
          cacheControl: 'no-store',
        });
        const meta = JSON.parse(res.body) as Record<string, unknown>;
        expect(Object.fromEntries(ENDPOINTS.map((k) => [k, meta[k]]))).toEqual({
          authorization_endpoint: 'https://hub.example/authorize',
          token_endpoint: 'https://hub.example/token',
          registration_endpoint: 'https://hub.example/register',
          revocation_endpoint: 'https://hub.example/revoke',
          jwks_uri: 'https://hub.example/jwks',
        });
        expect(urlsOf(res.body).filter((u) => !u.startsWith('https://hub.example'))).toEqual([]);
      }
  });

  it("under a path, behind the README's nginx (Host kept, no X-Forwarded-Proto), lists https endpoints under that path", async () => {
    const res = await forwarded(prefixed.port, '/.well-known/openid-configuration', { host: 'proxy.example' });
    expect(res.status).toBe(200);
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta['issuer']).toBe('https://proxy.example/hub');
    expect(Object.fromEntries(ENDPOINTS.map((k) => [k, meta[k]]))).toEqual({
      authorization_endpoint: 'https://proxy.example/hub/authorize',
      token_endpoint: 'https://proxy.example/hub/token',
      registration_endpoint: 'https://proxy.example/hub/register',
      revocation_endpoint: 'https://proxy.example/hub/revoke',
      jwks_uri: 'https://proxy.example/hub/jwks',
    });
  });

  it('sends the browser to its sign-in page under the path with Secure cookies, though the proxy sent no X-Forwarded-Proto', async () => {
    const clientId = String((await register(`http://127.0.0.1:${prefixed.port}`)).body['client_id']);
    const url = authorizeUrl('https://proxy.example/hub', clientId, pkce());
    const res = await forwarded(prefixed.port, `/authorize${url.search}`, { host: 'proxy.example', 'x-forwarded-host': 'evil.example' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/hub\/sign-in\/[^/]+$/);
    const cookies = [res.headers['set-cookie'] ?? []].flat();
    expect(cookies.map((c) => c.split('=')[0])).toEqual(expect.arrayContaining(['_interaction', '_interaction_resume']));
    expect(cookies.filter((c) => !/;\s*secure/i.test(c))).toEqual([]);
    // The resume cookie's Path is the resume URL's path, built like every other URL: under /hub.
    expect(cookies.filter((c) => !/;\s*path=\/hub\//i.test(c))).toEqual([]);
  });
});
