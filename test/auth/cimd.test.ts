/**
 * Client ID Metadata Documents (SEP-991): a client whose `client_id` is the HTTPS URL of its
 * metadata document. Served on loopback with `auth.cimd.allowLoopback` (development), the MCP
 * SDK's own OAuth client signs in with it; a document whose client_id is not its URL, one that
 * asks for a shared-secret auth method, and any document on a special-use address without the
 * setting are refused before any redirect to the client.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressAllowed, guardedFetch } from '../../src/auth/cimd-fetch.js';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { MemoryOAuthClient, REDIRECT, authorizeUrl, exchangeCode, pkce, signIn, tokenRequest } from './support.js';
import { TLS_CERT, TLS_KEY } from './tls.js';

/** Documents by path; `hits` counts fetches, to see the hub's cache at work. */
const documents = new Map<string, { body: unknown; headers?: Record<string, string> }>();
let hits = 0;
let docServer: Server;
let docBase: string;

beforeAll(async () => {
  docServer = createServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
    hits++;
    if (req.url === '/clients/moved.json') {
      res.writeHead(302, { location: '/clients/sdk.json' }).end();
      return;
    }
    const doc = documents.get(req.url ?? '');
    if (doc === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...doc.headers }).end(JSON.stringify(doc.body));
  });
  await new Promise<void>((resolve) => docServer.listen(0, '127.0.0.1', resolve));
  docBase = `https://127.0.0.1:${(docServer.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => docServer.close(() => resolve())));

/** Publishes a public client's document at `path`; `over` changes or adds fields. */
function publish(path: string, over: Record<string, unknown> = {}): string {
  const id = `${docBase}${path}`;
  documents.set(path, {
    body: {
      client_id: id,
      client_name: 'Metadata document client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...over,
    },
    headers: { 'cache-control': 'max-age=600' },
  });
  return id;
}

/** The MCP SDK's client with a metadata document URL instead of registering. */
class DocumentClient extends MemoryOAuthClient {
  constructor(readonly clientMetadataUrl: string) {
    super('Metadata document client');
  }
}

/** An authorization request's first answer, not followed: where a refusal goes and what it says. */
async function authorizeOnce(base: string, clientId: string): Promise<{ status: number; location: string | null; body: string }> {
  const res = await fetch(authorizeUrl(base, clientId, pkce()), { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), body: await res.text() };
}

describe('development mode (auth.cimd.allowLoopback)', () => {
  let hub: RunningHub;
  let base: string;
  let hubToken: string;
  beforeAll(async () => {
    hub = await startHub({ mcpServers: { files: fixtureStdio() }, auth: { cimd: { allowLoopback: true } } }, { cimdCa: TLS_CERT });
    base = `http://127.0.0.1:${hub.port}`;
    hubToken = (await hub.hub.tokens.create({ user: 'alice' })).token;
  });
  afterAll(() => hub?.stop());

  it('the metadata says documents are supported; the SDK signs in with its document URL, lists tools and calls one; the document is fetched once', async () => {
    const as = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as['client_id_metadata_document_supported']).toBe(true);

    const clientId = publish('/clients/sdk.json');
    const oauth = new DocumentClient(clientId);
    hits = 0;
    const url = new URL(hub.url);
    const client = new Client({ name: 'cimd', version: '1.0.0' });
    await expect(client.connect(new StreamableHTTPClientTransport(url, { authProvider: oauth }))).rejects.toBeInstanceOf(UnauthorizedError);
    // No registration: the client id is the document's URL.
    expect(oauth.client?.client_id).toBe(clientId);
    expect(oauth.authorizationUrl?.searchParams.get('client_id')).toBe(clientId);
    const { callback, pages } = await signIn(oauth.authorizationUrl!, hubToken);
    // The pages name the client as its document does, and where it sends the user back.
    expect(pages[0]).toContain('Metadata document client');
    expect(pages[1]).toContain('<code>127.0.0.1:9</code>');
    // And what the name cannot fake: the host that publishes its document; and, sent back to this
    // machine, a warning that only an app the user started should be allowed.
    expect(pages[1]).toContain(`<tr><th>Described by</th><td><code>${new URL(clientId).host}</code>`);
    expect(pages[1]).toContain('This app sends you back to a program on this computer');
    await new StreamableHTTPClientTransport(url, { authProvider: oauth }).finishAuth(callback.searchParams);
    expect(oauth.saved?.refresh_token).toEqual(expect.any(String));

    const session = new Client({ name: 'cimd', version: '1.0.0' });
    await session.connect(new StreamableHTTPClientTransport(url, { authProvider: oauth }));
    expect((await session.listTools()).tools.map((t) => t.name)).toContain('files__echo');
    expect(await session.callTool({ name: 'files__echo', arguments: { text: 'from a document client' } })).toMatchObject({
      content: [{ type: 'text', text: 'from a document client' }],
    });
    await session.close();
    // Fetched by the authorization request; the sign-in pages, the consent, the token requests
    // and the session used the cached document (max-age=600).
    expect(hits).toBe(1);
  });

  it('a document sent back only to loopback is a native app: any port there is allowed (RFC 8252 §7.3), however the document is written', async () => {
    // The no-port form CLI clients publish, one with another fixed port, and one that says "web".
    for (const [path, over] of [
      ['/clients/cli-noport.json', { redirect_uris: ['http://127.0.0.1/callback'] }],
      ['/clients/cli-port.json', { redirect_uris: ['http://127.0.0.1:18150/callback'] }],
      ['/clients/cli-web.json', { redirect_uris: ['http://127.0.0.1/callback'], application_type: 'web' }],
    ] as const) {
      const clientId = publish(path, over);
      const p = pkce();
      // REDIRECT is http://127.0.0.1:9/callback: the document's URL on a port it did not name.
      const { callback } = await signIn(authorizeUrl(base, clientId, p), hubToken);
      const code = callback.searchParams.get('code');
      expect([path, code]).toEqual([path, expect.any(String)]);
      const token = await exchangeCode(base, clientId, code!, p.verifier);
      expect([path, token.status]).toEqual([path, 200]);
    }
    // A document sent back to an https URL gets exactly its URLs, as before.
    const web = publish('/clients/web.json', { redirect_uris: ['https://app.example/callback'] });
    const r = await authorizeOnce(base, web);
    expect(r.status).toBe(400);
    expect(r.location).toBeNull();
  });

  it('a document sent back to an app’s own URI scheme is a native app, as a registration is: its sign-in starts', async () => {
    const app = publish('/clients/app-scheme.json', { redirect_uris: ['com.example.app:/oauth2redirect'] });
    const res = await fetch(authorizeUrl(base, app, pkce(), { redirect_uri: 'com.example.app:/oauth2redirect' }), { redirect: 'manual' });
    await res.body?.cancel();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/sign-in\//);
  });

  it('a document whose client_id is not its own URL is refused before any redirect, fetched once', async () => {
    const clientId = publish('/clients/liar.json', { client_id: `${docBase}/clients/other.json` });
    hits = 0;
    const r = await authorizeOnce(base, clientId);
    expect(r.status).toBe(400);
    expect(r.location).toBeNull();
    expect(r.body).toContain('invalid_client');
    // The library looks a refused client up again for its error page: answered from the first fetch.
    expect(hits).toBe(1);
  });

  it('a document asking for a shared-secret token endpoint auth method is refused before any redirect', async () => {
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const clientId = publish(`/clients/secret-${method}.json`, { token_endpoint_auth_method: method });
      const r = await authorizeOnce(base, clientId);
      expect(r.status).toBe(400);
      expect(r.location).toBeNull();
      expect(r.body).toContain('invalid_client');
    }
  });

  it('a document that is not there (or redirects elsewhere) is refused; the token endpoint refuses such a client too', async () => {
    const moved = await authorizeOnce(base, `${docBase}/clients/moved.json`);
    expect(moved).toMatchObject({ status: 400, location: null });
    const missing = await authorizeOnce(base, `${docBase}/clients/none.json`);
    expect(missing).toMatchObject({ status: 400, location: null });
    const token = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: `${docBase}/clients/none.json`,
      code: 'x',
      redirect_uri: REDIRECT,
      code_verifier: 'v'.repeat(43),
    });
    expect(token).toMatchObject({ status: 400, body: { error: 'invalid_client', error_description: 'client_id metadata document fetch failed' } });
  });
});

describe('production mode (the default)', () => {
  let hub: RunningHub;
  let base: string;
  beforeAll(async () => {
    hub = await startHub({}, { cimdCa: TLS_CERT });
    base = `http://127.0.0.1:${hub.port}`;
  });
  afterAll(() => hub?.stop());

  it('a valid document on a loopback address is refused before any redirect, without being fetched', async () => {
    const clientId = publish('/clients/prod.json');
    hits = 0;
    const r = await authorizeOnce(base, clientId);
    expect(r.status).toBe(400);
    expect(r.location).toBeNull();
    expect(r.body).toContain('invalid_client');
    expect(hits).toBe(0);
  });

  it('a name that resolves to loopback (localhost) is refused at resolution, before any connection', async () => {
    const clientId = publish('/clients/by-name.json').replace('127.0.0.1', 'localhost');
    hits = 0;
    const r = await authorizeOnce(base, clientId);
    expect(r).toMatchObject({ status: 400, location: null });
    expect(hits).toBe(0);
  });
});

describe('the guarded fetch', () => {
  it.each([
    ['127.0.0.1', false],
    ['::1', false],
    ['10.1.2.3', false],
    ['172.20.0.1', false],
    ['192.168.1.10', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:127.0.0.1', false],
    ['fd00::1', false],
    ['fe80::1', false],
    ['224.0.0.1', false],
    ['93.184.215.14', true],
    ['2606:4700::6810:84e5', true],
    ['::ffff:93.184.215.14', true],
    ['not-an-address', false],
  ])('%s allowed in production: %s', (address, allowed) => {
    expect(addressAllowed(address, false)).toBe(allowed);
  });

  it('allowLoopback lets loopback through and nothing else private', () => {
    expect(addressAllowed('127.0.0.1', true)).toBe(true);
    expect(addressAllowed('::1', true)).toBe(true);
    expect(addressAllowed('::ffff:127.0.0.1', true)).toBe(true);
    for (const a of ['10.0.0.1', '192.168.0.1', '169.254.169.254', 'fd00::1', 'fe80::1']) expect(addressAllowed(a, true)).toBe(false);
  });

  it('refuses a loopback literal and a name resolving to loopback before connecting; allows them with allowLoopback', async () => {
    const clientId = publish('/clients/rebind.json');
    const fetchLoopback = guardedFetch({ allowLoopback: true, ca: TLS_CERT });
    const ok = await fetchLoopback(clientId);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    hits = 0;
    await expect(guardedFetch({ allowLoopback: false, ca: TLS_CERT })(clientId.replace('127.0.0.1', 'localhost'))).rejects.toThrow(/special-use/);
    await expect(guardedFetch({ allowLoopback: false, ca: TLS_CERT })(clientId)).rejects.toThrow(/special-use/);
    expect(hits).toBe(0);
  });

  it('fetches over HTTPS only, does not follow redirects and caps the size', async () => {
    const f = guardedFetch({ allowLoopback: true, ca: TLS_CERT, maxBytes: 100 });
    const moved = await f(`${docBase}/clients/moved.json`);
    expect(moved.status).toBe(302);
    await moved.body?.cancel();
    await expect(f(`http://127.0.0.1:${new URL(docBase).port}/clients/sdk.json`)).rejects.toThrow(/HTTPS only/);
    documents.set('/clients/big.json', { body: { padding: 'x'.repeat(500) } });
    // Chunked, with no length to refuse up front: the body stops at the cap.
    const big = await f(`${docBase}/clients/big.json`);
    await expect(big.text()).rejects.toThrow(/too large/);
  });
});
