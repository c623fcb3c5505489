import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PUBLIC_ROUTES } from '../../src/http/public-routes.js';
import { fixtureStdio, ROOT, startHub, type RunningHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';

const T0 = Date.UTC(2026, 4, 1);
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'scopes', version: '1' } },
});

async function listTools(url: string, token: string): Promise<string[]> {
  const client = new Client({ name: 'scopes', version: '1' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    return (await client.listTools()).tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
}

/**
 * Bound beyond loopback (host 0.0.0.0 in config; the test reaches it on 127.0.0.1), so every
 * route not listed as public needs a token, and each route its scope.
 */
describe('token scopes, public routes and expiry over HTTP', () => {
  const clock = manualClock(T0);
  let h: RunningHub;
  let origin: string;
  const tok = {} as Record<'aliceMcp' | 'bobMetrics' | 'bobMcp' | 'admin' | 'expiring', string>;
  let expiringId = '';
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const initialize = (token?: string) =>
    fetch(`${origin}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, ...(token ? bearer(token) : {}) }, body: INITIALIZE });

  beforeAll(async () => {
    h = await startHub({ server: { host: '0.0.0.0' }, mcpServers: { fx: fixtureStdio() } }, { clock });
    origin = new URL(h.url).origin;
    const t = h.hub.tokens;
    tok.aliceMcp = h.token;
    tok.bobMetrics = (await t.create({ user: 'bob', scopes: ['metrics'] })).token;
    tok.bobMcp = (await t.create({ user: 'bob', scopes: ['mcp'] })).token;
    tok.admin = (await t.create({ user: 'root', scopes: ['admin'] })).token;
    const expiring = await t.create({ user: 'carol', expiresInMs: 30 * 86_400_000 });
    tok.expiring = expiring.token;
    expiringId = expiring.record.id;
  });
  afterAll(async () => h.stop());

  it('is reached by this machine’s loopback names and addresses (a published container port), not by a host name it was not given', async () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
    const hosts = ['127.0.0.1', 'localhost', '[::1]', ...(own === undefined ? [] : [own])];
    for (const host of hosts) {
      const res = await rawRequest({
        port: h.port,
        path: '/mcp',
        method: 'POST',
        headers: { ...MCP_HEADERS, ...bearer(tok.aliceMcp), host: `${host}:${h.port}` },
        body: INITIALIZE,
      });
      expect([host, res.status]).toEqual([host, 200]);
    }
    const named = await rawRequest({ port: h.port, path: '/healthz', method: 'GET', headers: { host: `hub.example.test:${h.port}` } });
    expect(named.status).toBe(403);
  });

  it('refuses /mcp to a token without mcp with 403 insufficient_scope, while mcp tokens of two users work side by side', async () => {
    const res = await initialize(tok.bobMetrics);
    expect(res.status).toBe(403);
    const description = 'This token lacks the mcp scope; create one with `switchboard tokens create --user NAME --scopes mcp`.';
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", error_description="${description}", scope="mcp", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(await res.json()).toEqual({ error: 'insufficient_scope', error_description: description });
    // An admin token does not act as a user's tools either.
    expect((await initialize(tok.admin)).status).toBe(403);

    const [alice, bob] = await Promise.all([listTools(h.url, tok.aliceMcp), listTools(h.url, tok.bobMcp)]);
    expect(alice).toContain('fx__echo');
    expect(bob).toEqual(alice);
  });

  it('serves /metrics to a metrics or admin token, 403 to an mcp-only token, 401 without one', async () => {
    for (const t of [tok.bobMetrics, tok.admin]) {
      const res = await fetch(`${origin}/metrics`, { headers: bearer(t) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toContain('# TYPE ');
    }
    const mcpOnly = await fetch(`${origin}/metrics`, { headers: bearer(tok.aliceMcp) });
    expect(mcpOnly.status).toBe(403);
    expect(mcpOnly.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", .*scope="metrics"/);
    expect(await mcpOnly.json()).toMatchObject({ error: 'insufficient_scope' });
    const none = await fetch(`${origin}/metrics`);
    expect(none.status).toBe(401);
    // The challenge and the hint name the scope this route takes: a plain `tokens create` holds mcp only.
    expect(none.headers.get('www-authenticate')).toMatch(/ scope="metrics"$/);
    const body = (await none.json()) as { error: string; error_description: string; how_to_authenticate: { create: string } };
    expect(body.error).toBe('invalid_token');
    expect(body.error_description).toContain('`switchboard tokens create --user NAME --scopes metrics`');
    expect(body.how_to_authenticate.create).toBe('switchboard tokens create --user NAME --scopes metrics');
  });

  it('needs a token on a route that is not listed as public, and answers listed ones without one', async () => {
    const unlisted = await fetch(`${origin}/not-a-listed-route`, { method: 'POST', body: 'x' });
    expect(unlisted.status).toBe(401);
    expect(await unlisted.json()).toMatchObject({ error: 'invalid_token' });
    // A variant spelling of a listed route is not listed.
    expect((await fetch(`${origin}/healthz/`)).status).toBe(401);
    const withToken = await fetch(`${origin}/not-a-listed-route`, { headers: bearer(tok.aliceMcp) });
    expect(withToken.status).toBe(404);
    expect(await withToken.json()).toEqual({ error: { code: 'not_found', message: 'no such route' } });

    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    expect((await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`)).status).toBe(200);
    // The authorization server's registration answers itself (an empty request is invalid metadata).
    expect((await fetch(`${origin}/register`, { method: 'POST' })).status).toBe(400);
    // Under a listed prefix the route's own checks answer (a page, a 404), not the hub-token check.
    for (const path of ['/connect', '/oauth/callback', '/webhooks/nothing']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.headers.get('www-authenticate'), path).toBeNull();
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it('names the sources on /readyz only to a metrics or admin token', async () => {
    await h.hub.ready();
    const anonymous = await fetch(`${origin}/readyz`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ready' });
    for (const t of [tok.aliceMcp, 'sbt_not-a-token'])
      expect(await (await fetch(`${origin}/readyz`, { headers: bearer(t) })).json()).toEqual({ status: 'ready' });
    const detailed = await fetch(`${origin}/readyz`, { headers: bearer(tok.bobMetrics) });
    expect(await detailed.json()).toMatchObject({ status: 'ready', sources: { fx: { kind: 'mcp', state: 'ready' } } });
  });

  it('refuses an expired token with 401 invalid_token saying it expired, on the hub clock', async () => {
    expect((await initialize(tok.expiring)).status).toBe(200);
    expect(await h.hub.tokens.revokedAmong([expiringId])).toEqual([]);
    clock.advance(30 * 86_400_000);
    // The revocation watch asks this: an expired token's open sessions and streams are closed like a revoked one's.
    expect(await h.hub.tokens.revokedAmong([expiringId])).toEqual([expiringId]);
    const res = await initialize(tok.expiring);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="the token has expired; create a new one\. Sign in with OAuth/,
    );
    expect(await res.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/^the token has expired; create a new one\./) });
    // Tokens without expiry are untouched by the clock.
    expect((await initialize(tok.aliceMcp)).status).toBe(200);
  });

  it('lists the same public routes in the README as in the code', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('<!-- public-routes -->'), readme.indexOf('<!-- /public-routes -->'));
    const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(PUBLIC_ROUTES.map((r) => r.path));
  });
});
