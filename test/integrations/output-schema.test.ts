import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, type LocalApi } from '../helpers/local-api.js';

/** Answers as a provider sends them: ids past 2^53 as JSON numbers. */
const routes: Record<string, (res: ServerResponse) => void> = {
  '/api/repo': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": 9007199254740993, "name": "big"}'),
  '/api/refs': (res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"items": [{"id": 12345678901234567891, "snowflake": 12345678901234567892}]}'),
  '/api/list': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[{"id":1},{"id":2}]'),
  '/api/repos': (res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id": 9007199254740995, "name": "made"}'),
  '/api/wrong': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"x","name":"n"}'),
};

const REPO = { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } }, required: ['id', 'name'] };

const read = (path: string, output: Record<string, unknown>) => ({ description: path, method: 'GET', path, readOnly: true, output });

/**
 * A template tool that declares an `output` schema, through the MCP SDK clients that check a
 * result's structuredContent against the outputSchema the hub lists (MCP: a tool with an output
 * schema must return structured results that conform to it).
 */
describe("a template tool's declared output schema", () => {
  let api: LocalApi;
  let hub: RunningHub;

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) route(res);
      else res.writeHead(404).end();
    });
    hub = await startHub({
      integrations: {
        p: keyedIntegration(api, {
          repo: read('/repo', REPO),
          list: read('/list', { type: 'object', properties: { items: { type: 'array' } } }),
          wrong: read('/wrong', REPO),
          // A write: queued in the outbox, its stored answer rendered as a direct call's.
          create: { description: 'create', method: 'POST', path: '/repos', output: REPO },
          // An integer by reference, and one a schema declares as a string (the digits kept).
          refs: read('/refs', {
            $defs: { id: { type: 'integer' } },
            properties: {
              items: { type: 'array', items: { type: 'object', properties: { id: { $ref: '#/$defs/id' }, snowflake: { type: ['string', 'integer'] } } } },
            },
          }),
        }),
      },
    });
  });

  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  for (const kind of CLIENT_KINDS) {
    it(`gives an integer past 2^53 as the number its schema declares, its digits kept in the text (${kind} client)`, async () => {
      const c: FaceClient = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
      try {
        // The clients compile the listed output schemas as they list the tools.
        await c.listPage();
        const repo = await c.callTool('p__repo', {});
        expect(repo).toEqual({
          content: [{ type: 'text', text: '{\n  "id": 9007199254740993,\n  "name": "big"\n}' }],
          structuredContent: { id: 9007199254740992, name: 'big' },
          isError: false,
          errorCode: undefined,
        });
        const made = await c.callTool('p__create', {});
        expect(made).toMatchObject({ structuredContent: { id: 9007199254740996, name: 'made' }, isError: false });
        expect(made.content).toEqual([{ type: 'text', text: '{\n  "id": 9007199254740995,\n  "name": "made"\n}' }]);
        const refs = await c.callTool('p__refs', {});
        expect(refs.structuredContent).toEqual({ items: [{ id: 12345678901234567000, snowflake: '12345678901234567892' }] });
        expect(refs.content).toEqual([
          { type: 'text', text: '{\n  "items": [\n    {\n      "id": 12345678901234567891,\n      "snowflake": 12345678901234567892\n    }\n  ]\n}' },
        ]);
      } finally {
        await c.close();
      }
    });

    it(`answers an answer that does not fit the schema with a tool error naming the mismatch (${kind} client)`, async () => {
      const c: FaceClient = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
      try {
        await c.listPage();
        expect(await c.callTool('p__list', {})).toEqual({
          content: [
            {
              type: 'text',
              text:
                "p__list: P's answer does not fit the tool's output schema (the output is not a JSON object, as the output schema asks)." +
                ' The answer: [\n  {\n    "id": 1\n  },\n  {\n    "id": 2\n  }\n]',
            },
          ],
          structuredContent: undefined,
          isError: true,
          errorCode: 'downstream_error',
        });
        const wrong = await c.callTool('p__wrong', {});
        expect(wrong).toMatchObject({ isError: true, errorCode: 'downstream_error' });
        expect(wrong.content).toEqual([
          {
            type: 'text',
            text: expect.stringMatching(
              /^p__wrong: P's answer does not fit the tool's output schema \(the output does not match the output schema: .*id.*integer.*\)\. The answer: \{/,
            ),
          },
        ]);
      } finally {
        await c.close();
      }
    });
  }
});
