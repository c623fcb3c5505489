import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextPageQuery } from '../../src/integrations/link-header.js';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * A list the provider pages with a `Link` header, as GitHub's REST API does (the body is a bare
 * array that cannot say there is more): the tool result names the next page's arguments, in its
 * text for the model and in `_meta["switchboard/nextPage"]` for the client, until the last page.
 */
describe('pages named by a Link header (GitHub)', () => {
  let api: LocalApi;
  let hub: RunningHub;
  let bobToken: string;
  const ISSUES = Array.from({ length: 5 }, (_, i) => ({ number: i + 1, title: `issue ${i + 1}` }));

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const page = Number(url.searchParams.get('page') ?? '1');
      const perPage = Number(url.searchParams.get('per_page') ?? '2');
      const items = ISSUES.slice((page - 1) * perPage, page * perPage);
      const origin = `http://${req.headers.host}`;
      const last = Math.ceil(ISSUES.length / perPage);
      // As GitHub does, the links repeat the request's other query arguments.
      const state = url.searchParams.has('state') ? `state=${url.searchParams.get('state')}&` : '';
      const links = [
        page < last ? `<${origin}/repos/o/r/issues?${state}per_page=${perPage}&page=${page + 1}>; rel="next"` : undefined,
        `<${origin}/repos/o/r/issues?${state}per_page=${perPage}&page=${last}>; rel="last"`,
      ].filter(Boolean);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', link: links.join(', ') }).end(JSON.stringify(items));
    });
    const base = api.origin;
    const input = { type: 'object', properties: { page: { type: 'integer' }, per_page: { type: 'integer' } } };
    hub = await startHub({
      integrations: {
        gh: {
          type: 'custom',
          title: 'GitHub',
          apiBaseUrl: base,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'ghp_test' },
          tools: {
            list_issues: { description: 'Lists issues', method: 'GET', path: '/repos/o/r/issues', readOnly: true, input },
            // Its path sends `state=all` itself: the next page is asked for by page and per_page alone.
            all_issues: { description: 'Lists all issues', method: 'GET', path: '/repos/o/r/issues?state=all', readOnly: true, input },
            // Declares no arguments, so it cannot ask for another page.
            first_issues: { description: 'Lists the first issues', method: 'GET', path: '/repos/o/r/issues', readOnly: true },
            // Declares `page` only: the next page also names per_page, which it does not take.
            paged_issues: {
              description: 'Lists issues by page',
              method: 'GET',
              path: '/repos/o/r/issues',
              readOnly: true,
              input: { type: 'object', properties: { page: { type: 'integer' } } },
            },
            // Its repository is in the path, where no Link names it: the next call repeats it.
            repo_issues: {
              description: "Lists a repository's issues",
              method: 'GET',
              path: '/repos/{owner}/{repo}/issues',
              readOnly: true,
              input: {
                type: 'object',
                properties: { owner: { type: 'string' }, repo: { type: 'string' }, page: { type: 'integer' }, per_page: { type: 'integer' } },
                required: ['owner', 'repo'],
              },
            },
            // The same, closed explicitly, as the sandbox's tools are: per_page is refused all the same.
            closed_issues: {
              description: 'Lists issues by page',
              method: 'GET',
              path: '/repos/o/r/issues',
              readOnly: true,
              input: { type: 'object', properties: { page: { type: 'integer' } }, additionalProperties: false },
            },
          },
        },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  const client = (token: string) => bearerClient(hub.url, token, 'link-pages-test');

  it('two users each page through to the last page by the arguments the result names', async () => {
    const [alice, bob] = await Promise.all([client(hub.token), client(bobToken)]);
    try {
      for (const c of [alice, bob]) {
        const numbers: number[] = [];
        let args: Record<string, unknown> = { per_page: 2 };
        for (let pages = 0; pages < 5; pages++) {
          const r = await c.callTool({ name: 'gh__list_issues', arguments: args });
          const content = r.content as Array<{ type: string; text: string }>;
          numbers.push(...(JSON.parse(content[0]!.text) as Array<{ number: number }>).map((i) => i.number));
          const next = r._meta?.['switchboard/nextPage'] as Record<string, string> | undefined;
          if (!next) {
            expect(content).toHaveLength(1);
            break;
          }
          expect(content[1]?.text).toBe(`More results: the next page is ${new URLSearchParams(next)} (call again with those arguments).`);
          args = Object.fromEntries(Object.entries(next).map(([k, v]) => [k, Number(v)]));
        }
        expect(numbers).toEqual([1, 2, 3, 4, 5]);
      }
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('names arguments to call again with only when the tool takes them, leaving out those its path sends itself', async () => {
    const c = await client(hub.token);
    try {
      const call = async (name: string, args: Record<string, unknown> = {}) => {
        const r = await c.callTool({ name, arguments: args });
        return { more: (r.content as Array<{ text: string }>)[1]?.text, next: r._meta?.['switchboard/nextPage'] };
      };
      expect(await call('gh__first_issues')).toEqual({
        more: 'More results: the provider has a next page (per_page=2&page=2), which this tool cannot ask for: its input does not take per_page, page.',
        next: undefined,
      });
      expect(await call('gh__paged_issues')).toEqual({
        more: 'More results: the provider has a next page (per_page=2&page=2), which this tool cannot ask for: its input does not take per_page.',
        next: undefined,
      });
      expect(await call('gh__closed_issues')).toEqual({
        more: 'More results: the provider has a next page (per_page=2&page=2), which this tool cannot ask for: its input does not take per_page.',
        next: undefined,
      });
      const all = await call('gh__all_issues', { per_page: 2 });
      expect(all).toEqual({ more: 'More results: the next page is per_page=2&page=2 (call again with those arguments).', next: { per_page: 2, page: 2 } });
      const second = await c.callTool({ name: 'gh__all_issues', arguments: all.next as Record<string, unknown> });
      expect(JSON.parse((second.content as Array<{ text: string }>)[0]!.text)).toEqual(ISSUES.slice(2, 4));
    } finally {
      await c.close();
    }
  });

  it("pages through a tool whose path takes arguments: the next call's arguments repeat them", async () => {
    const c = await client(hub.token);
    try {
      const numbers: number[] = [];
      let args: Record<string, unknown> = { owner: 'o', repo: 'r', per_page: 2 };
      for (let pages = 0; pages < 5; pages++) {
        const r = await c.callTool({ name: 'gh__repo_issues', arguments: args });
        expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
        const content = r.content as Array<{ type: string; text: string }>;
        numbers.push(...(JSON.parse(content[0]!.text) as Array<{ number: number }>).map((i) => i.number));
        const next = r._meta?.['switchboard/nextPage'] as Record<string, unknown> | undefined;
        if (!next) break;
        expect(next).toEqual({ owner: 'o', repo: 'r', per_page: 2, page: pages + 2 });
        expect(content[1]?.text).toBe(
          `More results: the next page is per_page=2&page=${pages + 2} (call again with those arguments, and owner, repo as before).`,
        );
        args = next;
      }
      expect(numbers).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await c.close();
    }
  });

  it('reads rel lists, bare rels and relative links; nothing without a next', () => {
    expect(nextPageQuery('<https://api.github.com/x?page=3>; rel="next last"')).toEqual({ page: '3' });
    expect(nextPageQuery('</x?cursor=abc>; title="more"; rel=next')).toEqual({ cursor: 'abc' });
    expect(nextPageQuery('<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=9>; rel="last"')).toBeUndefined();
    expect(nextPageQuery(null)).toBeUndefined();
  });
});
