/**
 * Calls of a custom integration's tools (config `type: custom`) through a real MCP client, against
 * a local provider API and a real authorization server (oidc-provider, rotating refresh tokens):
 * redirects, a never-answering API, a huge answer, Retry-After, concurrent 401s and undeclared
 * arguments, as the provider client must handle them. Accounts are linked with tokens the
 * authorization server issued through its own sign-in flow.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { argumentRefusal, connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { callbackOf } from '../oauth/support.js';
import { startForeignHost, startProviderApi, type ForeignHost, type ProviderApi } from './provider-api.js';

const TIMEOUT_MS = 500;
const CAP = 10 * 1024 * 1024;

const tools = {
  things: {
    description: 'Lists things',
    method: 'GET',
    path: '/things',
    readOnly: true,
    input: { type: 'object', properties: { status: { type: 'string' } } },
  },
  create: { description: 'Creates a thing', method: 'POST', path: '/things', input: { type: 'object', properties: { title: { type: 'string' } } } },
  put_thing: {
    description: 'Replaces a thing',
    method: 'PUT',
    path: '/things/{id}',
    idempotent: true,
    input: { type: 'object', properties: { id: { type: 'string' }, title: { type: 'string' } }, required: ['id'] },
  },
  hop: {
    description: 'Follows a hop',
    method: 'GET',
    path: '/hop/{kind}',
    readOnly: true,
    input: { type: 'object', properties: { kind: { type: 'string' } }, required: ['kind'] },
  },
  post_hop: {
    description: 'Posts to a hop',
    method: 'POST',
    path: '/hop/{kind}',
    input: { type: 'object', properties: { kind: { type: 'string' }, note: { type: 'string' } }, required: ['kind'] },
  },
  huge: { description: 'Answers 200 MB', method: 'GET', path: '/huge', readOnly: true },
};

/** A failed call as the caller sees it: the text for the model, the hub's error code for the client. */
const failure = (text: string, errorCode: string) => ({ content: [{ type: 'text', text }], isError: true, errorCode });
const answer = (status: number, headers: Record<string, string>, body: unknown) => (res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('a custom integration calling its provider', () => {
  // Whole seconds, so an HTTP-date Retry-After converts to an exact delay.
  const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
  const sleeps: number[] = [];
  let oidc: OidcServer;
  let api: ProviderApi;
  let foreign: ForeignHost;
  let hub: RunningHub;
  let alice: FaceClient;
  let bob: FaceClient;

  const connection = async (user: string) => (await hub.hub.integrations.accounts.connections.find('default', user, 'acme'))!;
  const tokenOf = async (user: string) => (await hub.hub.integrations.accounts.connections.tokens(await connection(user))).accessToken;

  beforeAll(async () => {
    foreign = await startForeignHost();
    api = await startProviderApi(foreign.origin);
    oidc = await startOidcServer();
    const acme = { ...oidc.integration(), apiBaseUrl: `${api.origin}/v1`, tools };
    // The same API under a short timeout, so a never-answering call is driven in half a second.
    const stuck = {
      ...acme,
      title: 'Stuck',
      api: { timeoutMs: TIMEOUT_MS },
      tools: { slow: { description: 'Never answers', method: 'GET', path: '/slow', readOnly: true } },
    };
    hub = await startHub(
      { integrations: { acme, stuck } },
      {
        clock,
        // Waits between attempts are recorded and pass on the injected clock, not in real time.
        provider: {
          sleep: async (ms) => {
            sleeps.push(ms);
            clock.advance(ms);
          },
        },
      },
    );
    // Tokens are obtained at the hub's callback, as if it had linked them: registered once it listens.
    await oidc.allowRedirectUri(callbackOf(hub.port));
    for (const [user, integration] of [
      ['alice', 'acme'],
      ['bob', 'acme'],
      ['alice', 'stuck'],
    ] as const) {
      const t = await oidc.obtainTokens(`${user}@acme`, callbackOf(hub.port));
      await hub.hub.integrations.accounts.connections.link({
        tenant: 'default',
        user,
        integration,
        tokens: { accessToken: t.access_token, refreshToken: t.refresh_token, tokenType: 'Bearer', expiresAt: clock.now() + t.expires_in * 1000 },
        scopes: ['openid'],
      });
    }
    alice = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    bob = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: (await hub.hub.tokens.create({ user: 'bob' })).token });
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await hub?.stop();
    await Promise.all([oidc?.close(), api?.close(), foreign?.close()]);
  });

  describe('redirects', () => {
    it('refuses a redirect to another origin: the foreign host gets neither the request, the body nor the token', async () => {
      const get = await alice.callTool('acme__hop', { kind: 'foreign' });
      expect(get).toEqual(
        failure(
          `Acme redirected GET /v1/hop/foreign (307) to ${foreign.origin}/collect, which is outside the API base; not followed`,
          'provider_redirect_refused',
        ),
      );
      const post = await alice.callTool('acme__post_hop', { kind: 'foreign', note: 'private' });
      expect(post).toEqual(
        failure(
          `Acme redirected POST /v1/hop/foreign (307) to ${foreign.origin}/collect, which is outside the API base; not followed`,
          'provider_redirect_refused',
        ),
      );
      expect(foreign.hits).toEqual([]);
    });

    it('refuses a same-origin redirect outside the base path, sending no token there', async () => {
      const before = api.seen.length;
      const r = await alice.callTool('acme__hop', { kind: 'outside' });
      expect(r).toEqual(
        failure(
          `Acme redirected GET /v1/hop/outside (302) to ${api.origin}/admin/export, which is outside the API base; not followed`,
          'provider_redirect_refused',
        ),
      );
      expect(api.seen.slice(before).map((s) => s.path)).toEqual(['/v1/hop/outside']);
    });

    it('follows a same-origin redirect inside the base path, with the credentials', async () => {
      const before = api.seen.length;
      const r = await alice.callTool('acme__hop', { kind: 'inside' });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toEqual({ method: 'GET', path: '/v1/things', query: { from: 'hop' }, body: null });
      const token = await tokenOf('alice');
      expect(api.seen.slice(before).map((s) => [s.path, s.token])).toEqual([
        ['/v1/hop/inside', token],
        ['/v1/things', token],
      ]);
    });
  });

  it('gives up on an API that never answers at the configured timeout', async () => {
    const started = performance.now();
    const r = await alice.callTool('stuck__slow', {});
    const took = performance.now() - started;
    expect(r).toEqual(failure(`Stuck did not answer within ${TIMEOUT_MS} ms`, 'provider_timeout'));
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(took).toBeLessThan(TIMEOUT_MS + 2_000);
  });

  it('cuts a 200 MB answer at the cap and stops reading it', async () => {
    const r = await alice.callTool('acme__huge', {});
    expect(r).toEqual(failure(`Acme sent a response larger than ${CAP} bytes; it was cut off`, 'provider_response_too_large'));
    // The connection was closed: the provider stopped well short of 200 MB (socket buffers aside).
    expect(api.hugeBytesSent()).toBeLessThan(CAP + 8 * 1024 * 1024);
  });

  describe('Retry-After', () => {
    // The provider seeing the request is not enough: the clock may pass the retry time only once the
    // worker has read the answer and set the job's next attempt, or that attempt lands after the
    // advanced clock and the call ends queued.
    const jobIds = async () => new Set((await hub.hub.outbox.outbox.list({ user: 'alice' })).map((j) => j.id));
    const retryScheduled = async (tool: string, earlier: Set<string>) =>
      eventually(async () =>
        (await hub.hub.outbox.outbox.list({ user: 'alice', state: 'queued' })).find(
          (j) => !earlier.has(j.id) && j.tool === tool && j.attempts > 0 && j.lastError !== null,
        ),
      );

    it('is honoured on GET, in seconds and as an HTTP-date', async () => {
      sleeps.length = 0;
      const before = api.seen.length;
      api.queue(
        'GET /things',
        answer(429, { 'retry-after': '7' }, { error: 'slow down' }),
        answer(503, { 'retry-after': new Date(clock.now() + 7_000 + 3_000).toUTCString() }, { error: 'busy' }),
      );
      const r = await alice.callTool('acme__things', { status: 'open' });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toEqual({ method: 'GET', path: '/v1/things', query: { status: 'open' }, body: null });
      expect(sleeps).toEqual([7_000, 3_000]);
      expect(api.seen.slice(before).map((s) => `${s.method} ${s.path}${s.query}`)).toEqual(Array(3).fill('GET /v1/things?status=open'));
    });

    it("is the outbox's to act on for a POST: the client sends once, the job is sent again when the clock passes it", async () => {
      sleeps.length = 0;
      const before = api.seen.length;
      api.queue('POST /things', answer(429, { 'retry-after': '7' }, { error: 'slow down' }));
      const earlier = await jobIds();
      const pending = alice.callTool('acme__create', { title: 'anvil' });
      await retryScheduled('create', earlier);
      clock.advance(7_000);
      hub.hub.outbox.worker.wake();
      const r = await pending;
      expect(r.structuredContent).toEqual({ method: 'POST', path: '/v1/things', query: {}, body: { title: 'anvil' } });
      expect(sleeps).toEqual([]);
      expect(api.seen.slice(before).map((s) => [s.method, s.body])).toEqual(Array(2).fill(['POST', '{"title":"anvil"}']));
    });

    it('is honoured by the outbox for a write the tool declares idempotent', async () => {
      sleeps.length = 0;
      api.queue('PUT /things/t1', answer(503, { 'retry-after': '2' }, { error: 'busy' }));
      const before = api.seen.length;
      const earlier = await jobIds();
      const pending = alice.callTool('acme__put_thing', { id: 't1', title: 'anvil' });
      await retryScheduled('put_thing', earlier);
      expect(api.seen.length).toBe(before + 1);
      clock.advance(2_000);
      hub.hub.outbox.worker.wake();
      expect((await pending).structuredContent).toEqual({ method: 'PUT', path: '/v1/things/t1', query: {}, body: { title: 'anvil' } });
      expect(sleeps).toEqual([]);
    });
  });

  describe('401', () => {
    it('refreshes once for five concurrent 401s to the same token; the other user is untouched', async () => {
      const old = await tokenOf('alice');
      const bobs = await tokenOf('bob');
      const refreshes = oidc.tokenRequests('refresh_token');
      const before = api.seen.length;
      api.rejected.add(old);
      const results = await Promise.all([...Array.from({ length: 5 }, () => alice.callTool('acme__things', {})), bob.callTool('acme__things', {})]);
      expect(results.map((r) => (r.isError ? JSON.stringify(r.content) : false))).toEqual(Array(6).fill(false));
      expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
      const renewed = await tokenOf('alice');
      expect(renewed).not.toBe(old);
      const byToken = (t: string) => api.seen.slice(before).filter((s) => s.token === t).length;
      expect([byToken(old), byToken(renewed), byToken(bobs)]).toEqual([5, 5, 1]);
      expect([(await connection('alice')).tokenVersion, (await connection('bob')).tokenVersion]).toEqual([2, 1]);
    });

    // Changed deliberately: this was a final provider_unauthorized with the connection left active,
    // so every later call refreshed and failed again and the user was never offered the link, though
    // linking again is the only way forward once a token the provider just issued is refused.
    it('answers a 401 to the refreshed token by marking the connection needs_reauth and offering the link, without trying again', async () => {
      const refreshes = oidc.tokenRequests('refresh_token');
      const before = api.seen.length;
      const bobs = (await connection('bob')).tokenVersion;
      api.rejectAll = true;
      try {
        const r = await alice.callTool('acme__things', {});
        const reason = 'the provider refused the access token again right after it was refreshed (HTTP 401: {"error":"invalid_token"}); link the account again';
        expect(r).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
        expect((r.content[0] as { text: string }).text).toContain(
          `Your Acme connection needs to be linked again (${reason}). Open this link to re-link it, then call the tool again: http`,
        );
        expect(await connection('alice')).toMatchObject({ state: 'needs_reauth', reason });
      } finally {
        api.rejectAll = false;
      }
      expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
      expect(api.seen.length - before).toBe(2);
      // The next call offers the link at once, sending nothing; bob's connection is untouched.
      expect(await alice.callTool('acme__things', {})).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
      expect(api.seen.length - before).toBe(2);
      expect(await connection('bob')).toMatchObject({ state: 'active', tokenVersion: bobs });
      expect((await bob.callTool('acme__things', {})).isError).toBe(false);
    });
  });

  it('refuses an undeclared argument with a tool error naming it (invalid_arguments), before any request', async () => {
    const before = api.seen.length;
    expect(argumentRefusal(await alice.callTool('acme__things', { status: 'open', owner: 'mallory' }))).toContain(
      'invalid arguments for acme__things: unknown argument "owner"',
    );
    expect(argumentRefusal(await alice.callTool('acme__create', { title: 'x', status: 'closed', id: 'forged' }))).toContain('unknown arguments "status", "id"');
    expect(argumentRefusal(await alice.callTool('acme__things', { status: 3 }))).toContain('must be string');
    expect(api.seen.length).toBe(before);
  });
});
