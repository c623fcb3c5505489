import { parse as parseQuery } from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * An integration declared `bodyEncoding: "form"` (Stripe) sends a read's nested arguments in its
 * query the way it sends a write's body: brackets for objects and indexes for lists
 * (`created[gte]=…&expand[0]=data.customer`), as Stripe reads both. Sent as JSON text and repeated
 * keys, Stripe refused them ("Invalid hash", "Invalid array"). Escaping of & # ? / % holds. Through
 * real MCP clients of both eras against a provider on loopback that parses its query as Stripe does.
 */
describe('a form-encoding integration: nested arguments of a GET', () => {
  let api: LocalApi;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  const seen: string[] = [];

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${url.pathname}${url.search}`);
      const q = parseQuery(url.search.slice(1));
      // As Stripe answers a hash or a list it cannot read.
      const invalid = (param: string, kind: string) =>
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Invalid ${kind}`, param } }));
      if (q['created'] !== undefined && (typeof q['created'] !== 'object' || Array.isArray(q['created']))) return invalid('created', 'hash');
      if (q['expand'] !== undefined && !Array.isArray(q['expand'])) return invalid('expand', 'array');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [], has_more: false, query: q }));
    });
    const list = {
      type: 'object',
      properties: {
        created: { type: 'object', properties: { gte: { type: 'integer' }, lt: { type: 'integer' } }, additionalProperties: false },
        expand: { type: 'array', items: { type: 'string' } },
        customer: { type: 'string' },
        starting_after: { type: 'string' },
      },
      additionalProperties: false,
    };
    hub = await startHub({
      integrations: {
        stripe: {
          type: 'custom',
          title: 'Stripe',
          apiBaseUrl: `${api.origin}/v1`,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'sk_test_1' },
          bodyEncoding: 'form',
          tools: {
            list_charges: { description: 'Lists charges', method: 'GET', path: '/charges', readOnly: true, input: list },
            delete_item: {
              description: 'Deletes an item',
              method: 'DELETE',
              path: '/items/{id}',
              input: { type: 'object', properties: { id: { type: 'string' }, expand: { type: 'array', items: { type: 'string' } } }, required: ['id'] },
            },
          },
        },
      },
    });
    for (const kind of ['v2-auto', 'v2-legacy'] as const) clients.push(await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token }));
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await hub?.stop();
    await api?.close();
  });

  it('sends objects in brackets and lists by index, which the provider reads back as the arguments', async () => {
    for (const c of clients) {
      const args = { created: { gte: 1_700_000_000, lt: 1_800_000_000 }, expand: ['data.customer', 'data.invoice'], customer: 'cus_&#?/% é' };
      const r = await c.callTool('stripe__list_charges', args);
      expect(r.isError, `${c.kind}: ${JSON.stringify(r.content)}`).toBe(false);
      expect((r.structuredContent as { query: unknown }).query).toEqual({
        created: { gte: '1700000000', lt: '1800000000' },
        expand: ['data.customer', 'data.invoice'],
        customer: 'cus_&#?/% é',
      });
    }
  });

  it('a DELETE too, and leaves out nothing else: scalars and an absent value as before', async () => {
    seen.length = 0;
    const r = await clients[0]!.callTool('stripe__delete_item', { id: 'it/1', expand: ['parent'] });
    expect(r.isError).toBe(false);
    expect(seen).toEqual(['DELETE /v1/items/it%2F1?expand%5B0%5D=parent']);
    seen.length = 0;
    await clients[0]!.callTool('stripe__list_charges', { starting_after: 'ch_1' });
    expect(seen).toEqual(['GET /v1/charges?starting_after=ch_1']);
  });
});
