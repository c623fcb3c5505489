import { parse as parseForm } from 'qs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * A provider that takes form-encoded bodies with nested values in brackets, as Stripe's API does
 * (`email=a%40b.test&metadata[plan]=pro&tags[0]=vip`), declared with `bodyEncoding: "form"`:
 * queued writes of two users arrive as forms the provider parses back to the arguments, each with
 * the job's Idempotency-Key; a tool may still send JSON.
 */
describe('form-encoded bodies (bodyEncoding: "form")', () => {
  let api: LocalApi;
  const seen: Array<{ path: string; type: string | undefined; key: string | undefined; body: unknown; raw: string }> = [];
  let hub: RunningHub;
  let bobToken: string;

  beforeAll(async () => {
    api = await localApi((req, raw, res) => {
      const type = req.headers['content-type'];
      const body = type?.startsWith('application/x-www-form-urlencoded') ? parseForm(raw) : JSON.parse(raw || '{}');
      const key = req.headers['idempotency-key'];
      seen.push({ path: req.url ?? '', type, key: typeof key === 'string' ? key : undefined, body, raw });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `cus_${seen.length}`, object: 'customer', ...body }));
    });
    const base = `${api.origin}/v1`;
    const customer = {
      type: 'object',
      properties: {
        email: { type: 'string' },
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['email'],
    };
    hub = await startHub({
      integrations: {
        pay: {
          type: 'custom',
          title: 'Pay',
          apiBaseUrl: base,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'sk_test_1' },
          bodyEncoding: 'form',
          idempotencyHeader: 'Idempotency-Key',
          tools: {
            create_customer: { description: 'Creates a customer', method: 'POST', path: '/customers', input: customer },
            report: { description: 'Sends a JSON report', method: 'POST', path: '/reports', bodyEncoding: 'json', input: customer },
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

  const client = (token: string) => bearerClient(hub.url, token, 'form-test');

  it('two users’ writes arrive as forms with nested values and their own idempotency keys', async () => {
    const [alice, bob] = await Promise.all([client(hub.token), client(bobToken)]);
    try {
      seen.length = 0;
      const [a, b] = await Promise.all([
        alice.callTool({
          name: 'pay__create_customer',
          arguments: { email: 'alice@example.test', metadata: { plan: 'pro', seats: '3' }, tags: ['vip', 'eu'] },
        }),
        bob.callTool({ name: 'pay__create_customer', arguments: { email: 'bob@example.test' } }),
      ]);
      expect(a.isError).toBeFalsy();
      expect(b.isError).toBeFalsy();
      const byEmail = new Map(seen.map((s) => [(s.body as { email: string }).email, s]));
      const fromAlice = byEmail.get('alice@example.test')!;
      expect(fromAlice.type).toBe('application/x-www-form-urlencoded');
      expect(fromAlice.body).toEqual({ email: 'alice@example.test', metadata: { plan: 'pro', seats: '3' }, tags: ['vip', 'eu'] });
      expect(decodeURIComponent(fromAlice.raw)).toBe('email=alice@example.test&metadata[plan]=pro&metadata[seats]=3&tags[0]=vip&tags[1]=eu');
      expect(byEmail.get('bob@example.test')?.body).toEqual({ email: 'bob@example.test' });
      const jobs = await hub.hub.outbox.outbox.list({ integration: 'pay' });
      expect(new Set(seen.map((s) => s.key))).toEqual(new Set(jobs.map((j) => j.id)));
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('a tool that says json sends JSON in a form integration', async () => {
    const alice = await client(hub.token);
    try {
      seen.length = 0;
      await alice.callTool({ name: 'pay__report', arguments: { email: 'alice@example.test', metadata: { plan: 'pro' } } });
      expect(seen).toMatchObject([{ path: '/v1/reports', type: 'application/json', body: { email: 'alice@example.test', metadata: { plan: 'pro' } } }]);
    } finally {
      await alice.close();
    }
  });
});
