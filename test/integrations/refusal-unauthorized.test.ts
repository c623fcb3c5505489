/**
 * Slack answers a dead token with HTTP 200 and `{"ok": false, "error": "invalid_auth"}` (or
 * `token_revoked`, `token_expired`, `account_inactive`, `not_authed`), never with a 401. Listed in
 * the integration's `refusal.unauthorized`, such an answer is read as a 401: the token is refreshed
 * once when it can be and the call goes on, and otherwise the connection goes to `needs_reauth` and
 * the call offers the link, as after a 401. A local API and token endpoint in Slack's wire format,
 * a real hub, real MCP clients; every user but the affected one is untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

const DEAD = ['invalid_auth', 'token_revoked', 'token_expired', 'account_inactive', 'not_authed'];

describe("a dead token refused in a 200 (Slack's ok:false invalid_auth)", () => {
  let api: LocalApi;
  let hub: RunningHub;
  /** What the API says of each access token: 'ok', or the error it refuses it with. */
  const accessState = new Map<string, string>();
  /** Live refresh tokens → their user. */
  const refreshOf = new Map<string, string>();
  /** Refreshes asked for, per user. */
  const refreshes = new Map<string, number>();
  /** API requests that carried each user's tokens. */
  const calls: Array<{ user: string; path: string }> = [];
  /** What a new token of a user is answered with (dave's account is disabled: new tokens are refused too). */
  const newTokenState = (user: string) => (user === 'dave' || user === 'frank' ? 'account_inactive' : 'ok');
  const clients = new Map<string, FaceClient>();

  const json = (res: import('node:http').ServerResponse, body: unknown) =>
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));

  beforeAll(async () => {
    api = await localApi((req, body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/api/oauth.v2.access') {
        // Slack's token rotation: a refresh answers 200 with ok:true and a new pair, or ok:false.
        const form = new URLSearchParams(body);
        const user = refreshOf.get(form.get('refresh_token') ?? '');
        if (user !== undefined) refreshes.set(user, (refreshes.get(user) ?? 0) + 1);
        if (user === undefined || user === 'erin') return json(res, { ok: false, error: 'invalid_refresh_token' });
        refreshOf.delete(form.get('refresh_token')!);
        const n = refreshes.get(user)!;
        const access = `xoxe.xoxp-${user}-${n + 1}`;
        accessState.set(access, newTokenState(user));
        refreshOf.set(`xoxe-1-${user}-${n + 1}`, user);
        return json(res, { ok: true, access_token: access, refresh_token: `xoxe-1-${user}-${n + 1}`, token_type: 'user', expires_in: 43_200 });
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const user = /^xoxe\.xoxp-([a-z]+)-/.exec(token)?.[1] ?? '?';
      calls.push({ user, path: url.pathname });
      const state = token === '' ? 'not_authed' : (accessState.get(token) ?? 'invalid_auth');
      if (state !== 'ok') return json(res, { ok: false, error: state });
      if (url.pathname === '/api/chat.postMessage') return json(res, { ok: true, channel: 'C1', ts: '1.0' });
      return json(res, { ok: true, channel: { id: 'C1', name: url.searchParams.get('channel') } });
    });
    const channel = { type: 'object', properties: { channel: { type: 'string' } }, required: ['channel'] };
    hub = await startHub({
      integrations: {
        slack: {
          type: 'custom',
          title: 'Slack',
          apiBaseUrl: `${api.origin}/api`,
          oauth: {
            authorizeUrl: `${api.origin}/oauth/v2/authorize`,
            tokenUrl: `${api.origin}/api/oauth.v2.access`,
            clientId: 'c1',
            clientSecret: 's1',
            tokenAuth: 'body',
          },
          refusal: { okAt: 'ok', messageAt: 'error', unauthorized: DEAD },
          tools: {
            info: { description: 'A channel', method: 'GET', path: '/conversations.info', readOnly: true, input: channel },
            post: {
              description: 'Posts a message',
              method: 'POST',
              path: '/chat.postMessage',
              input: { ...channel, properties: { ...channel.properties, text: { type: 'string' } } },
            },
          },
        },
        // A bot token from config: nothing to refresh or link, so its refusal is the credentials' (provider_unauthorized).
        bot: {
          type: 'custom',
          title: 'Slack Bot',
          apiBaseUrl: `${api.origin}/api`,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'xoxb-revoked' },
          refusal: { okAt: 'ok', messageAt: 'error', unauthorized: DEAD },
          tools: { info: { description: 'A channel', method: 'GET', path: '/conversations.info', readOnly: true, input: channel } },
        },
      },
    });
    const connections = hub.hub.integrations.accounts.connections;
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      const access = `xoxe.xoxp-${user}-1`;
      accessState.set(access, 'ok');
      // carol's app has no token rotation: no refresh token, no expiry.
      const refresh = user === 'carol' ? undefined : `xoxe-1-${user}-1`;
      if (refresh) refreshOf.set(refresh, user);
      await connections.link({
        tenant: 'default',
        user,
        integration: 'slack',
        tokens: { accessToken: access, tokenType: 'Bearer', ...(refresh ? { refreshToken: refresh, expiresAt: Date.now() + 43_200_000 } : {}) },
        scopes: [],
      });
      const token = user === 'alice' ? hub.token : (await hub.hub.tokens.create({ user })).token;
      clients.set(user, await connectClient('v2-auto', { transport: 'http', url: hub.url, token }));
    }
  });
  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await hub?.stop();
    await api?.close();
  });

  const call = (user: string, tool: string, args: Record<string, unknown>) => clients.get(user)!.callTool(`slack__${tool}`, args);
  const connection = async (user: string) => (await hub.hub.integrations.accounts.connections.find('default', user, 'slack'))!;
  const text = (r: { content: unknown[] }) => JSON.stringify(r.content);
  const bobWorks = async () => {
    const before = refreshes.get('bob') ?? 0;
    const r = await call('bob', 'info', { channel: 'general' });
    expect(r.isError).toBe(false);
    expect(r.structuredContent).toMatchObject({ ok: true, channel: { name: 'general' } });
    expect(await connection('bob')).toMatchObject({ state: 'active', tokenVersion: 1 });
    expect(refreshes.get('bob') ?? 0).toBe(before);
  };

  it('a key from config refused invalid_auth: provider_unauthorized, sent once, no connection touched', async () => {
    const before = calls.length;
    const r = await clients.get('alice')!.callTool('bot__info', { channel: 'general' });
    expect(r).toMatchObject({ isError: true, errorCode: 'provider_unauthorized' });
    expect((r.content[0] as { text: string }).text).toBe('Slack Bot refused GET /conversations.info (invalid_auth): {"ok":false,"error":"invalid_auth"}');
    expect(calls.length - before).toBe(1);
    expect(await connection('alice')).toMatchObject({ state: 'active' });
  });

  it('token_expired: refreshed once, and the call goes on with the new token', async () => {
    accessState.set('xoxe.xoxp-alice-1', 'token_expired');
    const r = await call('alice', 'info', { channel: 'general' });
    expect(r.isError).toBe(false);
    expect(r.structuredContent).toMatchObject({ ok: true, channel: { name: 'general' } });
    expect(refreshes.get('alice')).toBe(1);
    expect(await connection('alice')).toMatchObject({ state: 'active', tokenVersion: 2 });
    await bobWorks();
  });

  it('invalid_auth without a refresh token: needs_reauth saying why, and the link offered, the token endpoint never asked', async () => {
    accessState.set('xoxe.xoxp-carol-1', 'invalid_auth');
    const r = await call('carol', 'info', { channel: 'general' });
    expect(r).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
    expect(text(r)).toContain('Your Slack connection needs to be linked again (the provider refused the access token (invalid_auth)');
    expect(text(r)).toMatch(/Open this link to re-link it, then call the tool again: http:\/\/127\.0\.0\.1:\d+\//);
    expect(refreshes.get('carol')).toBeUndefined();
    expect(await connection('carol')).toMatchObject({ state: 'needs_reauth', reason: expect.stringContaining('(invalid_auth)') });
    await bobWorks();
  });

  it('account_inactive again after the refresh: needs_reauth and the link, one refresh only', async () => {
    accessState.set('xoxe.xoxp-dave-1', 'account_inactive');
    const before = calls.filter((c) => c.user === 'dave').length;
    const r = await call('dave', 'info', { channel: 'general' });
    expect(r).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
    expect(text(r)).toContain(
      'Your Slack connection needs to be linked again (the provider refused the access token again right after it was refreshed (account_inactive)',
    );
    expect(refreshes.get('dave')).toBe(1);
    expect(calls.filter((c) => c.user === 'dave').length - before).toBe(2);
    expect(await connection('dave')).toMatchObject({ state: 'needs_reauth' });
    await bobWorks();
  });

  it('three calls at once refused again after the one refresh: each offers the link', async () => {
    accessState.set('xoxe.xoxp-frank-1', 'account_inactive');
    const results = await Promise.all([1, 2, 3].map(() => call('frank', 'info', { channel: 'general' })));
    expect(results.map((r) => r.errorCode)).toEqual(Array(3).fill('connection_needs_reauth'));
    expect(refreshes.get('frank')).toBe(1);
    expect(await connection('frank')).toMatchObject({ state: 'needs_reauth' });
    await bobWorks();
  });

  it('a queued write refused token_revoked whose refresh is refused: the link, and the message sent once', async () => {
    accessState.set('xoxe.xoxp-erin-1', 'token_revoked');
    const r = await call('erin', 'post', { channel: 'general', text: 'hi' });
    expect(r).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
    expect(text(r)).toContain('Your Slack connection needs to be linked again');
    expect(calls.filter((c) => c.user === 'erin' && c.path === '/api/chat.postMessage')).toHaveLength(1);
    expect(await connection('erin')).toMatchObject({ state: 'needs_reauth' });
    const b = await call('bob', 'post', { channel: 'general', text: 'hi' });
    expect(b.isError).toBe(false);
    await bobWorks();
  });
});
