/**
 * The MCP SDKs' own OAuth client support (2.x `@modelcontextprotocol/client`, 1.x
 * `@modelcontextprotocol/sdk`) signs in against the hub, the browser step driven by the test: the
 * token works at /mcp, the SDK refreshes it with rotation when it stops working, and a reused
 * refresh token ends the whole grant.
 */
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { UnauthorizedError as V1UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';
import { MemoryOAuthClient, forgetAccessToken, initialize, obtainTokens, signIn, tokenRequest } from './support.js';

interface Line {
  /** Connects with the OAuth client; resolves false when the SDK stopped for the browser step. */
  connect(
    oauth: MemoryOAuthClient,
    at?: string,
  ): Promise<{ ok: boolean; listTools(): Promise<string[]>; echo(text: string): Promise<string>; close(): Promise<void> }>;
  finish(oauth: MemoryOAuthClient, callback: URL, at?: string): Promise<void>;
}

const textOf = (r: object) =>
  z
    .array(z.object({ text: z.string() }))
    .parse((r as { content?: unknown }).content)
    .map((c) => c.text)
    .join('');

const lines: Record<string, Line> = {
  '2.x': {
    async connect(oauth, at = url) {
      const client = new Client({ name: 'v2', version: '1.0.0' });
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(at), { authProvider: oauth }));
      } catch (err) {
        if (err instanceof UnauthorizedError) return { ok: false, listTools: async () => [], echo: async () => '', close: async () => {} };
        throw err;
      }
      return {
        ok: true,
        listTools: async () => (await client.listTools()).tools.map((t) => t.name),
        echo: async (text) => textOf(await client.callTool({ name: 'files__echo', arguments: { text } })),
        close: () => client.close(),
      };
    },
    finish: (oauth, callback, at = url) => new StreamableHTTPClientTransport(new URL(at), { authProvider: oauth }).finishAuth(callback.searchParams),
  },
  '1.x': {
    async connect(oauth, at = url) {
      const client = new V1Client({ name: 'v1', version: '1.0.0' });
      try {
        await client.connect(new V1Transport(new URL(at), { authProvider: oauth as never }));
      } catch (err) {
        if (err instanceof V1UnauthorizedError) return { ok: false, listTools: async () => [], echo: async () => '', close: async () => {} };
        throw err;
      }
      return {
        ok: true,
        listTools: async () => (await client.listTools()).tools.map((t) => t.name),
        echo: async (text) => textOf(await client.callTool({ name: 'files__echo', arguments: { text } })),
        close: () => client.close(),
      };
    },
    finish: (oauth, callback, at = url) => new V1Transport(new URL(at), { authProvider: oauth as never }).finishAuth(callback.searchParams.get('code')!),
  },
};

let hub: RunningHub;
let url: string;
let base: string;
let hubToken: string;
beforeAll(async () => {
  hub = await startHub({ mcpServers: { files: fixtureStdio() } });
  url = hub.url;
  base = `http://127.0.0.1:${hub.port}`;
  hubToken = (await hub.hub.tokens.create({ user: 'alice' })).token;
});
afterAll(() => hub?.stop());

describe.each(Object.keys(lines))('MCP SDK %s OAuth client against the hub', (name) => {
  const line = lines[name]!;

  it('registers, signs in with a hub token, lists tools and calls one; refresh rotates; a reused refresh token revokes the grant', async () => {
    const oauth = new MemoryOAuthClient(`SDK ${name} test client`);
    expect((await line.connect(oauth)).ok).toBe(false);
    expect(oauth.registrations).toHaveLength(1);
    const authorize = oauth.authorizationUrl!;
    expect(authorize.origin + authorize.pathname).toBe(`${base}/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('resource')).toBe(url);

    const { callback, pages } = await signIn(authorize, hubToken);
    // The sign-in page names the client; the consent page names it, where it sends the user back, the user and the scope.
    expect(pages).toHaveLength(2);
    expect(pages[0]).toContain(`SDK ${name} test client`);
    expect(pages[1]).toContain('<code>127.0.0.1:9</code>');
    expect(pages[1]).toContain('<b>alice</b>');
    expect(pages[1]).toContain('<code>mcp</code>');
    expect(callback.searchParams.get('iss')).toBe(base);
    await line.finish(oauth, callback);
    const firstTokens = oauth.saved!;
    expect(firstTokens.refresh_token).toEqual(expect.any(String));

    const session = await line.connect(oauth);
    expect(session.ok).toBe(true);
    expect(await session.listTools()).toContain('files__echo');
    expect(await session.echo('hello')).toBe('hello');

    // The access token stops working (gone from the store, as after expiry): the SDK refreshes on the 401 and retries.
    forgetAccessToken(hub.hub.db, firstTokens.access_token);
    expect((await initialize(url, firstTokens.access_token)).status).toBe(401);
    expect(await session.echo('again')).toBe('again');
    const secondTokens = oauth.saved!;
    expect(secondTokens.access_token).not.toBe(firstTokens.access_token);
    expect(secondTokens.refresh_token).toEqual(expect.any(String));
    expect(secondTokens.refresh_token).not.toBe(firstTokens.refresh_token);
    await session.close();

    // The first refresh token comes back (stolen, or a client bug): refused, and the grant is gone.
    const reuse = await tokenRequest(base, { grant_type: 'refresh_token', client_id: oauth.client!.client_id, refresh_token: firstTokens.refresh_token! });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const after = await tokenRequest(base, { grant_type: 'refresh_token', client_id: oauth.client!.client_id, refresh_token: secondTokens.refresh_token! });
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const dead = await initialize(url, secondTokens.access_token);
    expect(dead.status).toBe(401);
    expect(dead.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="unknown or revoked token\. Sign in with OAuth/);
  });

  it('signs in to a loopback hub reached as localhost: the metadata names that URL, and the token works there', async () => {
    const local = url.replace('127.0.0.1', 'localhost');
    const oauth = new MemoryOAuthClient(`SDK ${name} localhost client`);
    expect((await line.connect(oauth, local)).ok).toBe(false);
    expect(oauth.authorizationUrl!.searchParams.get('resource')).toBe(local);
    const { callback } = await signIn(oauth.authorizationUrl!, hubToken);
    await line.finish(oauth, callback, local);
    const session = await line.connect(oauth, local);
    expect(session.ok).toBe(true);
    expect(await session.echo('by name')).toBe('by name');
    await session.close();
    // The same token is for the hub's /mcp by any of its loopback names.
    expect((await initialize(url, oauth.saved!.access_token)).status).toBe(200);
  });
});

describe('a grant made at 127.0.0.1, refreshed by a client that now names the hub as localhost', () => {
  it('is refreshed for the granted name (not refused after spending the token), and the new token works under both names', async () => {
    const { clientId, tokens } = await obtainTokens(base, hubToken);
    const local = url.replace('127.0.0.1', 'localhost');
    const first = await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token!, resource: local });
    expect(first.status).toBe(200);
    // The rotated token is the one in use: its refresh is not taken for a reuse that ends the grant.
    const next = await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: String(first.body['refresh_token']) });
    expect(next.status).toBe(200);
    const token = String(next.body['access_token']);
    expect((await initialize(url, token)).status).toBe(200);
    expect((await initialize(local, token)).status).toBe(200);
  });
});
