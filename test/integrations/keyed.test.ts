import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * An API called with one key from config (or none) instead of each user's OAuth account: its tools
 * work for every user at once, the key travels only to the API, and there is nothing to link.
 */
describe('custom integrations with an API key or no credentials', () => {
  let api: LocalApi;
  const seen: IncomingHttpHeaders[] = [];
  let hub: RunningHub;
  let bobToken: string;

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }));
    });
    const base = `${api.origin}/v1`;
    const tool = { description: 'Lists things', method: 'GET', path: '/things', readOnly: true };
    hub = await startHub({
      integrations: {
        keyed: { type: 'custom', apiBaseUrl: base, auth: { type: 'apiKey', header: 'x-api-key', value: 'k-123' }, tools: { list: tool } },
        bearer: { type: 'custom', apiBaseUrl: base, auth: { type: 'apiKey', prefix: 'Bearer ', value: 'svc-token' }, tools: { list: tool } },
        open: { type: 'custom', apiBaseUrl: base, auth: { type: 'none' }, tools: { list: tool } },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  const client = (token: string) => bearerClient(hub.url, token, 'keyed-test');

  it('two users call at once with the configured key; the tools need no linking', async () => {
    const [alice, bob] = await Promise.all([client(hub.token), client(bobToken)]);
    try {
      const listed = (await alice.listTools()).tools.filter((t) => t.name.endsWith('__list'));
      expect(listed.map((t) => [t.name, t.description, t._meta?.['switchboard/connection']])).toEqual([
        ['keyed__list', 'Lists things', 'not_required'],
        ['bearer__list', 'Lists things', 'not_required'],
        ['open__list', 'Lists things', 'not_required'],
      ]);
      seen.length = 0;
      const [a, b] = await Promise.all([alice.callTool({ name: 'keyed__list', arguments: {} }), bob.callTool({ name: 'keyed__list', arguments: {} })]);
      for (const r of [a, b]) expect(r).toMatchObject({ content: [{ type: 'text', text: JSON.stringify({ path: '/v1/things' }, null, 2) }] });
      expect(seen.map((h) => [h['x-api-key'], h['authorization']])).toEqual([
        ['k-123', undefined],
        ['k-123', undefined],
      ]);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('sends a key with its prefix in Authorization, and nothing at all for "none"', async () => {
    const alice = await client(hub.token);
    try {
      seen.length = 0;
      await alice.callTool({ name: 'bearer__list', arguments: {} });
      await alice.callTool({ name: 'open__list', arguments: {} });
      expect(seen.map((h) => [h['authorization'], h['x-api-key']])).toEqual([
        ['Bearer svc-token', undefined],
        [undefined, undefined],
      ]);
    } finally {
      await alice.close();
    }
  });

  it('a custom integration names exactly one of oauth and auth', () => {
    const base = { type: 'custom', apiBaseUrl: 'https://api.example.test', tools: {} };
    const oauth = { authorizeUrl: 'https://example.test/a', tokenUrl: 'https://example.test/t', clientId: 'id', clientSecret: 's' };
    for (const entry of [base, { ...base, oauth, auth: { type: 'none' } }]) {
      const r = configSchema.safeParse({ integrations: { acme: entry } });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain('give either \\"oauth\\"');
    }
    expect(() => configSchema.parse({ integrations: { acme: { ...base, auth: { type: 'apiKey', value: '' } } } })).toThrow();
  });
});
