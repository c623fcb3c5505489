/**
 * Integration writes through the outbox, end to end: real MCP clients over HTTP, a hub whose
 * custom integration is the token-bucket API on loopback (test/fixtures/bucket-api.ts), called
 * with a key from config. Reads of the API's counters, never of log lines.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { argumentRefusal } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

const KEY = 'switchboard/idempotency-key';

const write = {
  description: 'Creates a note',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
  output: { type: 'object', properties: { applied: { type: 'boolean' }, key: { type: ['string', 'null'] } }, required: ['applied'] },
};

function integration(apiBaseUrl: string, rate: { perSecond: number; burst: number }) {
  return {
    type: 'custom',
    title: 'Notes',
    apiBaseUrl,
    auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
    idempotencyHeader: 'Idempotency-Key',
    rateLimit: { perApp: rate },
    tools: { create: write },
  };
}

async function client(hub: RunningHub, token: string): Promise<Client> {
  const c = new Client({ name: 'outbox-wiring-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return c;
}

type Result = Awaited<ReturnType<Client['callTool']>>;
const textOf = (r: Result) => (r.content as Array<{ text: string }>)[0]!.text;

describe('integration writes through the outbox', () => {
  let api: BucketApi;
  let refusing: Server;
  let hub: RunningHub;
  let bobToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 5 });
    // Answers every write with a 422, as a provider refusing one does.
    refusing = createServer((req, res) => {
      req.resume();
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"text is too long"}');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    hub = await startHub(
      {
        integrations: {
          // Declared a tenth under the API's own bucket, as an operator would: a loaded machine delays
          // some requests and then delivers them together, faster than they left.
          notes: integration(api.url, { perSecond: 45, burst: 5 }),
          strict: { ...integration(`http://127.0.0.1:${(refusing.address() as AddressInfo).port}`, { perSecond: 50, burst: 5 }), title: 'Strict' },
        },
        outbox: { waitMs: 30_000 },
      },
      { breakers: { threshold: 5, coolDownMs: 300 } },
    );
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
    for (let i = 0; i < 5; i++) clients.push(await client(hub, hub.token));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    await api?.close();
    await new Promise<void>((r) => (refusing ? refusing.close(() => r()) : r()));
  });

  it('a write tool with an output schema advertises it or the job handle', async () => {
    const tools = (await clients[0]!.listTools()).tools;
    const create = tools.find((t) => t.name === 'notes__create')!;
    expect(create.outputSchema).toEqual({
      type: 'object',
      anyOf: [{ ...write.output }, { type: 'object', properties: { jobId: { type: 'string' }, state: { type: 'string' } }, required: ['jobId', 'state'] }],
    });
    expect(tools.map((t) => t.name)).toContain('queue__job_status');
  });

  it('100 writes from 5 clients at once are each applied exactly once, paced under the API bucket', async () => {
    const before = { ...api.stats };
    const results = await Promise.all(
      clients.flatMap((c, ci) => Array.from({ length: 20 }, (_, i) => c.callTool({ name: 'notes__create', arguments: { text: `c${ci}-${i}` } }))),
    );
    expect(results.filter((r) => r.isError)).toEqual([]);
    const keys = results.map((r) => (r.structuredContent as { key: string }).key);
    expect(new Set(keys).size).toBe(100);
    for (const k of keys) expect(api.appliedByKey.get(k)).toBe(1);
    expect(api.stats.applied - before.applied).toBe(100);
    expect(api.stats.tooMany - before.tooMany).toBe(0);
  });

  it('the API answering 503 for 2 s: every job completes once; the caller hears progress meanwhile', async () => {
    api.failFor(2_000);
    const progress: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        clients[i % 5]!.callTool(
          { name: 'notes__create', arguments: { text: `outage-${i}` } },
          i === 0 ? { onprogress: (p) => progress.push(p.progress), resetTimeoutOnProgress: true, timeout: 60_000 } : { timeout: 60_000 },
        ),
      ),
    );
    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    for (const r of results) expect(api.appliedByKey.get((r.structuredContent as { key: string }).key)).toBe(1);
    expect(progress.length).toBeGreaterThan(0);
    expect(hub.hub.integrations.breakers.snapshot().find((b) => b.integration === 'notes')?.state).toBe('closed');
  }, 60_000);

  it("a caller's repeated key returns the first job's outcome; other arguments conflict; another user's same key is its own job", async () => {
    const alice = clients[0]!;
    const bob = await client(hub, bobToken);
    try {
      const call = (c: Client, text: string) => c.callTool({ name: 'notes__create', arguments: { text }, _meta: { [KEY]: 'order-7' } });
      const first = await call(alice, 'hello');
      const again = await call(alice, 'hello');
      expect(again).toEqual(first);
      const jobKey = (first.structuredContent as { key: string }).key;
      expect(api.appliedByKey.get(jobKey)).toBe(1);
      const conflict = await call(alice, 'other words');
      expect(conflict.isError).toBe(true);
      expect(textOf(conflict)).toContain('the idempotency key "order-7" was used for another notes create call with other arguments');
      const bobs = await call(bob, 'hello');
      expect(bobs.isError).toBeFalsy();
      const bobKey = (bobs.structuredContent as { key: string }).key;
      expect(bobKey).not.toBe(jobKey);
      expect(api.appliedByKey.get(bobKey)).toBe(1);
    } finally {
      await bob.close();
    }
  });

  it('a call cancelled while its job waits cancels the job: nothing is sent', async () => {
    // The worker held, so the job is certain to be unsent when the caller gives up.
    await hub.hub.outbox.worker.stop();
    try {
      const requests = api.stats.requests;
      const aborter = new AbortController();
      const call = clients[0]!.callTool({ name: 'notes__create', arguments: { text: 'never mind' } }, { signal: aborter.signal });
      const job = await eventually(async () => (await hub.hub.outbox.outbox.list({ state: 'queued' }))[0]);
      aborter.abort();
      await expect(call).rejects.toThrow();
      const settled = await eventually(async () => {
        const j = await hub.hub.outbox.outbox.find(job.id);
        return j?.state === 'cancelled' ? j : undefined;
      });
      expect(settled.state).toBe('cancelled');
      hub.hub.outbox.worker.start();
      await hub.hub.outbox.worker.drain();
      expect(api.stats.requests).toBe(requests);
    } finally {
      hub.hub.outbox.worker.start();
    }
  });

  it('a 4xx fails at once with the provider message; invalid arguments fail before anything is queued', async () => {
    const started = Date.now();
    const refused = await clients[0]!.callTool({ name: 'strict__create', arguments: { text: 'x'.repeat(10) } });
    expect(refused).toEqual({
      content: [{ type: 'text', text: 'Strict answered 422 Unprocessable Entity to POST /notes: {"message":"text is too long"}' }],
      isError: true,
      _meta: { 'switchboard/error': { code: 'downstream_error', retryable: false } },
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    const queued = (await hub.hub.outbox.outbox.list()).length;
    expect(argumentRefusal(await clients[0]!.callTool({ name: 'notes__create', arguments: { text: 42 } }))).toMatch(/text/);
    expect(argumentRefusal(await clients[0]!.callTool({ name: 'notes__create', arguments: { text: 'a', extra: true } }))).toMatch(/extra/);
    expect((await hub.hub.outbox.outbox.list()).length).toBe(queued);
  });
});

describe('a write that outlasts outbox.waitMs', () => {
  let api: BucketApi;
  let hub: RunningHub;

  beforeAll(async () => {
    // A slow provider: its answer comes after the hub stopped waiting.
    api = await startBucketApi({ perSecond: 50, burst: 5, delayMs: 300 });
    hub = await startHub({ integrations: { notes: integration(api.url, { perSecond: 50, burst: 5 }) }, outbox: { waitMs: 0 } });
  });

  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  it('returns the job handle (valid for the declared output schema), and queue__job_status shows the outcome to its owner only', async () => {
    const alice = await client(hub, hub.token);
    const bob = await client(hub, (await hub.hub.tokens.create({ user: 'bob' })).token);
    try {
      const r = await alice.callTool({ name: 'notes__create', arguments: { text: 'later' } });
      expect(r.isError).toBeFalsy();
      const { jobId, state } = r.structuredContent as { jobId: string; state: string };
      expect(jobId).toMatch(/^job_/);
      expect(['queued', 'sending']).toContain(state);
      expect(textOf(r)).toContain(`queue__job_status with {"jobId":"${jobId}"}`);
      const done = await eventually(async () => {
        const s = await alice.callTool({ name: 'queue__job_status', arguments: { jobId } });
        return (s.structuredContent as { state: string }).state === 'done' ? s : undefined;
      });
      expect(done.structuredContent).toMatchObject({ jobId, state: 'done', integration: 'notes', tool: 'create', result: { status: 200 } });
      expect(api.appliedByKey.get(jobId)).toBe(1);
      const foreign = await bob.callTool({ name: 'queue__job_status', arguments: { jobId } });
      expect(foreign).toEqual({
        content: [{ type: 'text', text: `No job ${jobId} of yours is known.` }],
        isError: true,
        _meta: { 'switchboard/error': { code: 'not_found', retryable: false } },
      });
      // Bad arguments name the argument, in the words every other tool uses.
      expect(argumentRefusal(await alice.callTool({ name: 'queue__job_status', arguments: {} }))).toContain('invalid arguments for queue__job_status: jobId: ');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
