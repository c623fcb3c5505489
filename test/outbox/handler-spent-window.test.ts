/**
 * A handler write that gives up on a 429 whose answer names no Retry-After but a spent window
 * (`X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`, as GitHub answers its primary limit) is run
 * again at the reset, as a template's write is sent again then: not after the outbox's backoff,
 * into the still-spent window. A built-in integration (registered for this file, as
 * integrations/index.ts registers the sandbox) with a linked account; a provider on loopback; a
 * real MCP client.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_INTEGRATIONS } from '../../integrations/index.js';
import { defineIntegration } from '../../src/integrations/definition.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

const RESET_IN_S = 1800;

describe('a handler write refused for a spent rate-limit window', () => {
  let api: LocalApi;
  let hub: RunningHub;
  let alice: Client;
  let posts = 0;
  const builtins = BUILTIN_INTEGRATIONS as Record<string, (typeof BUILTIN_INTEGRATIONS)[string]>;

  beforeAll(async () => {
    api = await localApi((_req, _body, res) => {
      posts++;
      res
        .writeHead(429, {
          'content-type': 'application/json',
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + RESET_IN_S),
        })
        .end('{"message":"API rate limit exceeded"}');
    });
    builtins['spent'] = () =>
      defineIntegration({
        name: 'spent',
        title: 'Spent',
        oauth: { authorizeUrl: `${api.origin}/oauth/authorize`, tokenUrl: `${api.origin}/oauth/token`, scopes: ['write'] },
        apiBaseUrl: `${api.origin}/api`,
        tools: {
          file: {
            description: 'Files a note',
            handler: async (_input, ctx) => {
              const res = await ctx.fetch('/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
              if (!res.ok) throw new Error(`notes answered ${res.status}`);
              return { ok: true };
            },
          },
        },
      });
    hub = await startHub({ integrations: { spent: { clientId: 'c', clientSecret: 's' } }, outbox: { waitMs: 1_000 } });
    await hub.hub.integrations.accounts.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'spent',
      tokens: { accessToken: 'at-alice', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000 },
      scopes: ['write'],
    });
    alice = new Client({ name: 'handler-spent-window-test', version: '1.0.0' });
    await alice.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await alice?.close();
    await hub?.stop();
    await api?.close();
    delete builtins['spent'];
  });

  it('is run again at the reset, the request sent once meanwhile', async () => {
    const asked = Date.now();
    const r = await alice.callTool({ name: 'spent__file', arguments: {} });
    expect(r.structuredContent).toMatchObject({ state: 'queued' });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'spent', limit: 1 });
    expect(job).toMatchObject({ state: 'queued', lastError: expect.stringContaining('429') });
    // Whole epoch seconds: up to a second before the reset named.
    expect(job!.nextAttemptAt).toBeGreaterThanOrEqual(asked + (RESET_IN_S - 1) * 1000);
    expect(posts).toBe(1);
  });
});
