/**
 * Ending an OAuth grant closes what its tokens hold open — 2025 sessions with their standalone
 * streams and 2026 `subscriptions/listen` streams — at once in the hub that ended it, and within
 * the revocation watcher's poll in a hub on the same data dir (`switchboard clients revoke`).
 * Revoking the hub token a user signed in with ends the grants it created too. Another user's
 * grant and hub token are unaffected throughout.
 */
import { Client, StreamableHTTPClientTransport, type McpSubscription } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, runCli, startHub, type RunningHub } from '../helpers/hub.js';
import { ping, rawSessionWithStream } from '../helpers/raw-mcp.js';
import { REDIRECT, authorizeUrl, obtainTokens, pkce, register, revoke, signIn, tokenRequest } from './support.js';

let h: RunningHub;
let base: string;
const toClose: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  h = await startHub({ fixtures: { conformance: true } });
  base = `http://127.0.0.1:${h.port}`;
});
afterEach(async () => {
  await Promise.all(toClose.splice(0).map((c) => c.close().catch(() => {})));
});
afterAll(() => h?.stop());

/** A user who signs in a client with a hub token; what that client holds open with its access token. */
async function signedInClient(user: string) {
  const hub = await h.hub.tokens.create({ user });
  const { clientId, tokens } = await obtainTokens(base, hub.token);
  const raw = await rawSessionWithStream(h.url, tokens.access_token);
  const client = new Client({ name: 'grant', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } } }));
  toClose.push(client);
  const sub: McpSubscription = await client.listen({ toolsListChanged: true });
  return { hubTokenId: hub.record.id, hubToken: hub.token, clientId, tokens, raw, sub };
}

/** 'open' when the promise has not settled by the time already-queued I/O has run. */
async function stillOpen(p: Promise<unknown>): Promise<'open' | 'closed'> {
  await new Promise((r) => setImmediate(r));
  return Promise.race([p.then(() => 'closed' as const), new Promise<'open'>((r) => setImmediate(() => r('open')))]);
}

async function stillWorks(c: Awaited<ReturnType<typeof signedInClient>>) {
  expect(await ping(h.url, c.tokens.access_token, c.raw.sessionId)).toMatchObject({ status: 200 });
  expect(await stillOpen(c.raw.ended)).toBe('open');
  expect(await stillOpen(c.sub.closed)).toBe('open');
}

describe('ending a grant closes its sessions and streams', () => {
  it('`clients list` shows each grant (user, client, scopes, created, last used, how signed in); `clients revoke` in another process closes the client’s sessions within 2 s', async () => {
    const a = await signedInClient('alice');
    const b = await signedInClient('bob');
    await stillWorks(a);

    const listed = await runCli(['clients', 'list', '--json', '--data', h.dataDir], h.dataDir);
    expect(listed.code).toBe(0);
    const grants = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    const alices = grants.filter((g) => g['clientId'] === a.clientId);
    expect(alices).toEqual([
      expect.objectContaining({
        tenant: 'default',
        user: 'alice',
        clientId: a.clientId,
        clientName: 'Test client',
        scopes: ['mcp'],
        createdAt: expect.any(Number),
        lastUsedAt: expect.any(Number),
        signedInWith: { via: 'token', tokenId: a.hubTokenId },
      }),
    ]);
    const text = await runCli(['tokens', 'list', '--data', h.dataDir], h.dataDir);
    expect(text.stdout).toContain('OAuth grants');
    expect(text.stdout).toMatch(
      new RegExp(`default/alice  client=${a.clientId}  "Test client"  scopes=mcp  created=\\S+  last-used=\\S+Z  via=${a.hubTokenId}`),
    );

    // Registered ids never begin with '-', so the id `clients list` prints is a valid argument as is.
    expect(a.clientId).toMatch(/^sbc_[\w-]{32}$/);
    const cli = await runCli(['clients', 'revoke', a.clientId, '--data', h.dataDir], h.dataDir);
    expect(cli, `the CLI's stderr: ${cli.stderr}`).toMatchObject({ code: 0, stdout: `revoked 1 grant of ${a.clientId}\n` });
    const revokedAt = Date.now();
    expect(await a.raw.ended).toBe('ended');
    expect(await a.sub.closed).toBe('remote');
    // The poll runs every second; the bound leaves room for a busy machine.
    expect(Date.now() - revokedAt).toBeLessThan(2_500);
    expect(await ping(h.url, a.tokens.access_token, a.raw.sessionId)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    // The registration is forgotten with its grants: the client's refresh token names an unknown client.
    expect(await tokenRequest(base, { grant_type: 'refresh_token', client_id: a.clientId, refresh_token: a.tokens.refresh_token! })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    await stillWorks(b);
  });

  it('a client revoking its token (RFC 7009) ends the grant, and its sessions close at once', async () => {
    const c = await signedInClient('carol');
    const d = await signedInClient('dave');
    expect(await revoke(base, c.clientId, c.tokens.access_token)).toBe(200);
    expect(await Promise.all([c.raw.ended, c.sub.closed])).toEqual(['ended', 'remote']);
    await stillWorks(d);
  });

  it('a reused refresh token ends the grant, and its sessions close at once', async () => {
    const e = await signedInClient('erin');
    const fresh = await tokenRequest(base, { grant_type: 'refresh_token', client_id: e.clientId, refresh_token: e.tokens.refresh_token! });
    expect(fresh.status).toBe(200);
    expect(await stillOpen(e.raw.ended)).toBe('open');
    const reuse = await tokenRequest(base, { grant_type: 'refresh_token', client_id: e.clientId, refresh_token: e.tokens.refresh_token! });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await Promise.all([e.raw.ended, e.sub.closed])).toEqual(['ended', 'remote']);
  });
});

describe('revoking the hub token a user signed in with', () => {
  it('in this process: the grants it signed in end and their sessions close at once; a grant signed in with another token lives on', async () => {
    const f = await signedInClient('frank');
    const g = await signedInClient('frank');
    expect(await h.hub.tokens.revoke(f.hubTokenId)).toBe(true);
    expect(await Promise.all([f.raw.ended, f.sub.closed])).toEqual(['ended', 'remote']);
    expect(await tokenRequest(base, { grant_type: 'refresh_token', client_id: f.clientId, refresh_token: f.tokens.refresh_token! })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    await stillWorks(g);
  });

  it('`switchboard tokens revoke` in another process says it ended the grant; the sessions close within 2 s', async () => {
    const i = await signedInClient('ivan');
    const cli = await runCli(['tokens', 'revoke', i.hubTokenId, '--data', h.dataDir], h.dataDir);
    expect(cli, `the CLI's stderr: ${cli.stderr}`).toMatchObject({ code: 0, stdout: `revoked ${i.hubTokenId}\nended 1 OAuth grant signed in with it\n` });
    const revokedAt = Date.now();
    expect(await Promise.all([i.raw.ended, i.sub.closed])).toEqual(['ended', 'remote']);
    expect(Date.now() - revokedAt).toBeLessThan(2_500);
  });

  it('an ID token the client gets does not name the hub token; revoking that token still ends the grant', async () => {
    const hubToken = await h.hub.tokens.create({ user: 'judy' });
    const clientId = String((await register(base)).body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(base, clientId, p, { scope: 'openid mcp' }), hubToken.token);
    const tokens = await tokenRequest(base, {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
    });
    expect(tokens.status).toBe(200);
    const claims = JSON.parse(Buffer.from(String(tokens.body['id_token']).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'default/judy', aud: clientId });
    expect(JSON.stringify(claims)).not.toContain(hubToken.record.id);
    // Still recorded beside the grant: revoking the token ends it.
    expect(await h.hub.tokens.revoke(hubToken.record.id)).toBe(true);
    await eventually(
      async () =>
        (await tokenRequest(base, { grant_type: 'refresh_token', client_id: clientId, refresh_token: String(tokens.body['refresh_token']) })).status === 400 ||
        undefined,
    );
  });
});
