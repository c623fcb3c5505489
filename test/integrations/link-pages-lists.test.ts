import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * Sentry's list endpoints, as its API documents them: a list argument goes in the query as its key
 * repeated (`project=1&project=2`), the `Link` header repeats it so, and every page has a
 * `rel="next"` link whose `results="false"` says that no page follows. The next call's arguments
 * keep the whole list (the hub sends it as it came), and the last page names no next page.
 */
describe('pages named by a Link header that repeats a list argument (Sentry)', () => {
  let api: LocalApi;
  let hub: RunningHub;
  const seen: string[] = [];
  const ISSUES = [1, 2, 3, 4, 5].map((n) => ({ id: String(n), project: n % 2 === 0 ? 2 : n % 3 === 0 ? 3 : 1 }));

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url.search);
      const projects = url.searchParams.getAll('project').map(Number);
      const mine = ISSUES.filter((i) => projects.includes(i.project));
      const offset = Number(url.searchParams.get('cursor')?.split(':')[1] ?? '0');
      const page = mine.slice(offset, offset + 2);
      const more = offset + 2 < mine.length;
      const base = `http://${req.headers.host}/api/0/organizations/acme/issues/?${projects.map((p) => `project=${p}`).join('&')}`;
      const link = [
        `<${base}&cursor=0:${Math.max(0, offset - 2)}:1>; rel="previous"; results="${offset > 0}"; cursor="0:${Math.max(0, offset - 2)}:1"`,
        `<${base}&cursor=0:${offset + 2}:0>; rel="next"; results="${more}"; cursor="0:${offset + 2}:0"`,
      ].join(', ');
      res.writeHead(200, { 'content-type': 'application/json', link }).end(JSON.stringify(page));
    });
    hub = await startHub({
      integrations: {
        sentry: {
          type: 'custom',
          title: 'Sentry',
          apiBaseUrl: `${api.origin}/api/0`,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'sntrys_test' },
          tools: {
            list_issues: {
              description: 'Lists issues',
              method: 'GET',
              path: '/organizations/acme/issues/',
              readOnly: true,
              input: {
                type: 'object',
                properties: { project: { type: 'array', items: { type: 'integer' } }, cursor: { type: 'string' } },
                additionalProperties: false,
              },
            },
            // Project 3 always, and one more: the link names both, which its one value cannot ask for.
            one_project: {
              description: 'Lists project 3’s issues and another’s',
              method: 'GET',
              path: '/organizations/acme/issues/?project=3',
              readOnly: true,
              input: { type: 'object', properties: { project: { type: 'string' }, cursor: { type: 'string' } }, additionalProperties: false },
            },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  async function pageThrough(token: string, projects: number[]): Promise<{ ids: string[]; lines: string[] }> {
    const c = await bearerClient(hub.url, token, 'link-lists-test');
    try {
      const ids: string[] = [];
      const lines: string[] = [];
      let args: Record<string, unknown> = { project: projects };
      for (let pages = 0; pages < 5; pages++) {
        const r = await c.callTool({ name: 'sentry__list_issues', arguments: args });
        expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
        const content = r.content as Array<{ text: string }>;
        ids.push(...(JSON.parse(content[0]!.text) as Array<{ id: string }>).map((i) => i.id));
        const next = r._meta?.['switchboard/nextPage'] as Record<string, unknown> | undefined;
        if (content[1]) lines.push(content[1].text);
        if (!next) break;
        expect(next['project']).toEqual(projects);
        args = next;
      }
      return { ids, lines };
    } finally {
      await c.close();
    }
  }

  it('two users each page through their own projects, the list kept whole, and the last page names no next one', async () => {
    const bob = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const [alice, bobs] = await Promise.all([pageThrough(hub.token, [1, 2]), pageThrough(bob, [3])]);
    expect(alice.ids).toEqual(['1', '2', '4', '5']);
    expect(alice.lines).toEqual(['More results: the next page is project=1&project=2&cursor=0%3A2%3A0 (call again with those arguments).']);
    expect(bobs).toEqual({ ids: ['3'], lines: [] });
    expect(seen.filter((q) => q.includes('cursor=0%3A2%3A0'))).toEqual(['?project=1&project=2&cursor=0%3A2%3A0']);
  });

  it('a tool that takes one value is told the next page repeats an argument it cannot send, not given one of them', async () => {
    const c = await bearerClient(hub.url, hub.token, 'link-lists-test');
    try {
      const one = await c.callTool({ name: 'sentry__one_project', arguments: { project: '1' } });
      expect(one._meta?.['switchboard/nextPage']).toBeUndefined();
      expect((one.content as Array<{ text: string }>)[1]?.text).toBe(
        'More results: the provider has a next page (project=3&project=1&cursor=0%3A2%3A0), which this tool cannot ask for: its input does not take project.',
      );
    } finally {
      await c.close();
    }
  });
});
