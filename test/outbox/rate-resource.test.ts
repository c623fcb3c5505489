import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * GitHub counts each request against one of several pools and names it in `X-RateLimit-Resource`
 * (REST API docs, "Rate limits"): `core` (5,000 an hour), `search` (30 a minute), `code_search`,
 * `graphql`… A search's answer says `X-RateLimit-Limit: 30`; that is the search pool's size, not
 * the connection's limit having dropped from 5,000 to 30. The provider here is a local server
 * speaking GitHub's headers.
 */

let server: Server | undefined;
let hub: RunningHub | undefined;
let client: FaceClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => {});
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe('GitHub rate-limit pools', () => {
  it("a search's 30-a-minute pool does not slow the connection's other calls to a crawl", { timeout: 30_000 }, async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    let searchLeft = 30;
    let coreLeft = 5000;
    server = createServer((req, res) => {
      const search = req.url?.startsWith('/api/search/') === true;
      const left = search ? Math.max(0, --searchLeft) : --coreLeft;
      res
        .writeHead(search && left === 0 ? 403 : 200, {
          'content-type': 'application/json',
          'x-ratelimit-limit': search ? '30' : '5000',
          'x-ratelimit-remaining': String(left),
          'x-ratelimit-used': String((search ? 30 : 5000) - left),
          'x-ratelimit-reset': search ? String(Math.floor(Date.now() / 1000) + 60) : reset,
          'x-ratelimit-resource': search ? 'search' : 'core',
        })
        .end(search && left === 0 ? '{"message":"API rate limit exceeded for user ID 1."}' : search ? '{"total_count":0,"items":[]}' : '{"id":1}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hub = await startHub({
      integrations: {
        github: {
          type: 'custom',
          title: 'GitHub',
          oauth: { authorizeUrl: `${origin}/authorize`, tokenUrl: `${origin}/token`, clientId: 'hub', clientSecret: 's' },
          apiBaseUrl: `${origin}/api`,
          rateLimit: { perConnection: { perSecond: 5, burst: 4 } },
          api: { timeoutMs: 2_000 },
          tools: {
            get_repo: { description: 'repo', method: 'GET', path: '/repos/o/r', readOnly: true },
            search_issues: { description: 'search', method: 'GET', path: '/search/issues', readOnly: true },
          },
        },
      },
    });
    await hub.hub.integrations.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'github',
      tokens: { accessToken: 'gho_x', tokenType: 'Bearer' },
      scopes: [],
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    const started = Date.now();
    const results = [];
    for (const tool of ['github__get_repo', 'github__search_issues', 'github__search_issues', 'github__get_repo', 'github__get_repo', 'github__get_repo']) {
      const r = await client.callTool(tool, {});
      results.push([tool, r.isError === true ? (r.content as Array<{ text: string }>)[0]?.text : 'ok']);
    }
    expect(results.map((r) => r[1])).toEqual(results.map(() => 'ok'));
    // Six calls at 5 a second (burst 4): well under two seconds.
    expect(Date.now() - started).toBeLessThan(3_000);

    // The search pool spent (GitHub: 403, Remaining 0, its reset a minute off): searches wait for
    // it, the account's other calls go on.
    searchLeft = 1;
    const spent = await client.callTool('github__search_issues', {});
    expect(spent.isError).toBe(true);
    expect((spent.content as Array<{ text: string }>)[0]?.text).toContain('403');
    for (let i = 0; i < 3; i++) expect((await client.callTool('github__get_repo', {})).isError).toBeFalsy();
  });

  it("GraphQL's own window: its size leaves the bucket's rate alone, its spend holds the account back", { timeout: 30_000 }, async () => {
    let graphqlLeft = 5000;
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const graphql = req.url?.startsWith('/api/graphql') === true;
      const left = graphql ? --graphqlLeft : 12_499;
      res
        .writeHead(graphql && left < 0 ? 403 : 200, {
          'content-type': 'application/json',
          // A GitHub App installation's core limit grows with its repositories; GraphQL stays at 5,000 points.
          'x-ratelimit-limit': graphql ? '5000' : '12500',
          'x-ratelimit-remaining': String(Math.max(0, left)),
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
          'x-ratelimit-resource': graphql ? 'graphql' : 'core',
        })
        .end(graphql && left < 0 ? '{"message":"API rate limit exceeded"}' : '{"data":{}}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hub = await startHub({
      integrations: {
        github: {
          type: 'custom',
          title: 'GitHub',
          oauth: { authorizeUrl: `${origin}/authorize`, tokenUrl: `${origin}/token`, clientId: 'hub', clientSecret: 's' },
          apiBaseUrl: `${origin}/api`,
          rateLimit: { perConnection: { perSecond: 5, burst: 4 } },
          api: { timeoutMs: 2_000 },
          tools: {
            get_repo: { description: 'repo', method: 'GET', path: '/repos/o/r', readOnly: true },
            query: { description: 'GraphQL', method: 'GET', path: '/graphql', readOnly: true },
          },
        },
      },
    });
    await hub.hub.integrations.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'github',
      tokens: { accessToken: 'ghs_x', tokenType: 'Bearer' },
      scopes: [],
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    const started = Date.now();
    for (const tool of ['github__get_repo', 'github__query', 'github__query', 'github__get_repo', 'github__query', 'github__get_repo'])
      expect((await client.callTool(tool, {})).isError).toBeFalsy();
    expect(Date.now() - started).toBeLessThan(3_000);

    // The GraphQL window spent: nothing more is sent before its reset.
    graphqlLeft = 1;
    expect((await client.callTool('github__query', {})).isError).toBeFalsy();
    const sent = requests.length;
    const refused = await client.callTool('github__query', {});
    expect(refused.isError).toBe(true);
    expect((refused.content as Array<{ text: string }>)[0]?.text).toMatch(/nothing was sent/);
    expect(requests).toHaveLength(sent);
  });
});
