/**
 * Where a template tool's arguments go when the method's default is wrong for the API: GitHub's
 * "delete a file" is a DELETE whose `message` and `sha` travel in a JSON body (without them GitHub
 * answers 422), and its release-asset upload is a POST that takes `name` in the query beside the
 * body. `argsIn` moves the arguments the path does not take; `query` names those sent in the query
 * whatever the method. Before, a DELETE always sent its arguments in the query and a POST in the
 * body. A local API that answers as GitHub does, real MCP clients of both eras, two users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

interface Seen {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  body: string;
}

describe('argsIn and query: arguments where the API reads them', () => {
  let api: LocalApi;
  let hub: RunningHub;
  const seen: Seen[] = [];
  const clients = new Map<string, FaceClient>();

  beforeAll(async () => {
    api = await localApi((req, body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.search, contentType: req.headers['content-type'], body });
      const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(v));
      if (req.method === 'DELETE') {
        // GitHub reads message and sha from the JSON body only.
        let parsed: { message?: unknown; sha?: unknown } = {};
        try {
          parsed = JSON.parse(body || '{}') as typeof parsed;
        } catch {
          return json(400, { message: 'Problems parsing JSON' });
        }
        if (typeof parsed.sha !== 'string') return json(422, { message: 'Invalid request.\n\n"sha" wasn\'t supplied.', status: '422' });
        return json(200, { content: null, commit: { sha: 'c0ffee', message: parsed.message } });
      }
      const name = url.searchParams.get('name');
      if (name === null) return json(422, { message: 'name is required' });
      return json(201, { name, label: (JSON.parse(body || '{}') as { label?: string }).label ?? null });
    });
    const str = { type: 'string' };
    hub = await startHub({
      integrations: {
        github: {
          type: 'custom',
          title: 'GitHub',
          apiBaseUrl: api.origin,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'ghp_test' },
          tools: {
            delete_file: {
              description: 'Deletes a file',
              method: 'DELETE',
              path: '/repos/{owner}/{repo}/contents/{path}',
              argsIn: 'body',
              input: {
                type: 'object',
                properties: { owner: str, repo: str, path: str, message: str, sha: str },
                required: ['owner', 'repo', 'path', 'message', 'sha'],
              },
            },
            delete_file_default: {
              description: 'Deletes a file, arguments where a DELETE sends them by default',
              method: 'DELETE',
              path: '/repos/{owner}/{repo}/contents/{path}',
              input: { type: 'object', properties: { owner: str, repo: str, path: str, message: str, sha: str }, required: ['owner', 'repo', 'path'] },
            },
            upload_asset: {
              description: 'Uploads a release asset',
              method: 'POST',
              path: '/repos/{owner}/{repo}/releases/{id}/assets',
              query: ['name'],
              input: {
                type: 'object',
                properties: { owner: str, repo: str, id: { type: 'integer' }, name: str, label: str },
                required: ['owner', 'repo', 'id', 'name'],
              },
            },
          },
        },
      },
    });
    clients.set('alice', await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token }));
    clients.set('bob', await connectClient('v1', { transport: 'http', url: hub.url, token: (await hub.hub.tokens.create({ user: 'bob' })).token }));
  });
  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await hub?.stop();
    await api?.close();
  });

  it('a DELETE with argsIn body sends the rest as a JSON body, from either era', async () => {
    for (const [user, sha] of [
      ['alice', 'a1'],
      ['bob', 'b2'],
    ] as const) {
      seen.length = 0;
      const r = await clients.get(user)!.callTool('github__delete_file', { owner: 'o', repo: 'r', path: 'docs/x.md', message: `rm by ${user}`, sha });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ commit: { message: `rm by ${user}` } });
      expect(seen).toEqual([
        {
          method: 'DELETE',
          path: '/repos/o/r/contents/docs%2Fx.md',
          query: '',
          contentType: 'application/json',
          body: JSON.stringify({ message: `rm by ${user}`, sha }),
        },
      ]);
    }
  });

  it('a DELETE without argsIn keeps sending them in the query, as before', async () => {
    seen.length = 0;
    const r = await clients.get('alice')!.callTool('github__delete_file_default', { owner: 'o', repo: 'r', path: 'x', message: 'm', sha: 's' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^GitHub answered 422/);
    expect(seen.map((s) => [s.query, s.body])).toEqual([['?message=m&sha=s', '']]);
  });

  it('a POST with query names sends those in the query and the rest as its body', async () => {
    seen.length = 0;
    const r = await clients.get('bob')!.callTool('github__upload_asset', { owner: 'o', repo: 'r', id: 7, name: 'app v1.zip', label: 'App' });
    expect(r.isError).toBe(false);
    expect(r.structuredContent).toEqual({ name: 'app v1.zip', label: 'App' });
    expect(seen).toEqual([
      {
        method: 'POST',
        path: '/repos/o/r/releases/7/assets',
        query: '?name=app+v1.zip',
        contentType: 'application/json',
        body: JSON.stringify({ label: 'App' }),
      },
    ]);
  });

  it('refuses at load a GET with argsIn body and a query name the input does not declare', () => {
    const tool = (extra: Record<string, unknown>) => ({
      integrations: {
        api: {
          type: 'custom',
          title: 'API',
          apiBaseUrl: 'https://api.example.test',
          auth: { type: 'none' },
          tools: {
            t: { description: 't', method: 'GET', path: '/t', readOnly: true, input: { type: 'object', properties: { a: { type: 'string' } } }, ...extra },
          },
        },
      },
    });
    const issues = (extra: Record<string, unknown>) => {
      const r = configSchema.safeParse(tool(extra));
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ argsIn: 'body' })).toEqual([
      'integrations.api.tools.t.argsIn: a GET request has no body: "argsIn": "body" is for POST, PUT, PATCH and DELETE',
    ]);
    expect(issues({ query: ['b'] })).toEqual(['integrations.api.tools.t.query.0: "b" is not a property of the tool\'s input schema']);
    expect(issues({ query: ['a'], argsIn: 'query' })).toEqual([]);
  });
});
