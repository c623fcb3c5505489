/**
 * A client described by a Client ID Metadata Document is sent back only where a registered client
 * may be: a document naming a plain-http redirect URI on a network host, or a wildcard host, is
 * refused at the authorization request, before any sign-in or redirect, as DCR refuses the same URI.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, pkce } from './support.js';
import { TLS_CERT, TLS_KEY } from './tls.js';

const documents = new Map<string, unknown>();
let docServer: Server;
let docBase: string;
let hub: RunningHub;
let base: string;

beforeAll(async () => {
  docServer = createServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
    const doc = documents.get(req.url ?? '');
    if (doc === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(JSON.stringify(doc));
  });
  await new Promise<void>((resolve) => docServer.listen(0, '127.0.0.1', resolve));
  docBase = `https://127.0.0.1:${(docServer.address() as AddressInfo).port}`;
  hub = await startHub({ auth: { cimd: { allowLoopback: true } } }, { cimdCa: TLS_CERT });
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(async () => {
  await hub?.stop();
  await new Promise<void>((resolve) => docServer.close(() => resolve()));
});

/** Publishes a public client's document sent back to `redirectUris`; its URL is the client id. */
function publish(path: string, redirectUris: string[]): string {
  const id = `${docBase}${path}`;
  documents.set(path, { client_id: id, client_name: 'Doc App', redirect_uris: redirectUris, token_endpoint_auth_method: 'none' });
  return id;
}

describe('a metadata document client', () => {
  it.each([
    ['plain http to a network host', 'http://attacker.example/cb', 'plain http to another host than loopback'],
    ['a wildcard host', 'https://*.example.com/cb', 'wildcard host'],
    ['a user name before the host', 'https://app.example@attacker.example/cb', 'user name or password'],
  ])('with %s as a redirect URI is refused before any redirect, as by DCR', async (_what, uri, reason) => {
    const dcr = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'x', redirect_uris: [uri] }),
    });
    expect(dcr.status).toBe(400);
    expect(await dcr.json()).toMatchObject({ error: 'invalid_redirect_uri' });

    const clientId = publish(`/clients/${encodeURIComponent(uri)}.json`, ['https://app.example/cb', uri]);
    const res = await fetch(authorizeUrl(base, clientId, pkce(), { redirect_uri: uri }), { redirect: 'manual' });
    const body = await res.text();
    expect([res.status, res.headers.get('location')]).toEqual([400, null]);
    // The library names a refusal about redirect_uris `invalid_redirect_uri` (RFC 7591 §3.2.2), as for DCR.
    expect(body).toContain('invalid_redirect_uri');
    expect(body).toContain(reason);
  });

  it('sent back to https and loopback only is still signed in', async () => {
    const clientId = publish('/clients/fine.json', ['https://app.example/cb', 'http://127.0.0.1/cb']);
    const res = await fetch(authorizeUrl(base, clientId, pkce(), { redirect_uri: 'https://app.example/cb' }), { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!, base).pathname).toMatch(/^\/sign-in\//);
  });
});
