/**
 * Write tools with a code handler go through the outbox like templates: queued as a job, run by
 * the worker with the job's connection, each write keyed from the job id, and answered with
 * exactly the tool result the direct call returns. A built-in integration (registered for this
 * file, as integrations/index.ts registers the sandbox) with a linked account; the token-bucket
 * API on loopback; a real MCP client.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_INTEGRATIONS } from '../../integrations/index.js';
import { defineIntegration, type IntegrationContext } from '../../src/integrations/definition.js';
import { startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

interface Answer {
  key: string | null;
  record?: { id: string };
}

const json = async (res: Response) => (await res.json()) as Answer;
const post = (ctx: IntegrationContext, path: string, body: unknown) =>
  ctx.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(json);

/** Two writes and a read, as a handler that files a note and tags it might make. */
async function fileAndTag(input: Record<string, unknown>, ctx: IntegrationContext) {
  const note = await post(ctx, '/notes', { text: input['text'] });
  const tag = await post(ctx, '/tags', { note: note.record!.id, tag: 'filed' });
  const seen = await ctx.fetch('/notes').then(json);
  return { note: note.record!.id, noteKey: note.key, tagKey: tag.key, readKey: seen.key };
}

/**
 * Two writes whose second meets a 503 the first time the handler runs (the API is told to fail
 * between them), after which the handler throws, as a handler that checks `res.ok` does.
 */
function twoWrites(api: () => BucketApi) {
  let runs = 0;
  return async (input: Record<string, unknown>, ctx: IntegrationContext) => {
    runs++;
    const first = await post(ctx, '/notes', { text: input['text'] });
    if (runs === 1) api().failFor(60_000);
    const res = await ctx.fetch('/tags', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tag":"filed"}' });
    if (runs === 1) api().failFor(-1);
    if (!res.ok) throw new Error(`tags answered ${res.status}`);
    return { note: first.record!.id, runs };
  };
}

function handy(apiBaseUrl: string, o: { name: string; title: string; idempotencyHeader?: string; api: () => BucketApi }) {
  return defineIntegration({
    name: o.name,
    title: o.title,
    oauth: { authorizeUrl: `${apiBaseUrl}/oauth/authorize`, tokenUrl: `${apiBaseUrl}/oauth/token`, scopes: ['write'] },
    apiBaseUrl,
    ...(o.idempotencyHeader ? { idempotencyHeader: o.idempotencyHeader } : {}),
    rateLimit: { perConnection: { perSecond: 200, burst: 50 } },
    tools: {
      file_and_tag: {
        description: 'Files a note and tags it',
        input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
        output: { type: 'object', properties: { note: { type: 'string' } }, required: ['note'] },
        handler: fileAndTag,
      },
      refuse: {
        description: 'Answers with a tool error of its own',
        handler: async () => ({ content: [{ type: 'text', text: 'nothing to file today' }], isError: true }),
      },
      explode: {
        description: 'Throws',
        handler: async (_input, ctx) => {
          await post(ctx, '/notes', { text: 'half done' });
          throw new Error('no quota left');
        },
      },
      peek: { description: 'Reads', readOnly: true, handler: async (_input, ctx) => ctx.fetch('/notes').then(json) },
      two_writes: { description: 'Writes twice', input: { type: 'object', properties: { text: { type: 'string' } } }, handler: twoWrites(o.api) },
    },
  });
}

describe('handler write tools through the outbox', () => {
  let api: BucketApi;
  let hub: RunningHub;
  let alice: Client;
  const builtins = BUILTIN_INTEGRATIONS as Record<string, (typeof BUILTIN_INTEGRATIONS)[string]>;

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 500, burst: 100, trace: true, echo: true });
    builtins['handy'] = () => handy(api.url, { name: 'handy', title: 'Handy', idempotencyHeader: 'Idempotency-Key', api: () => api });
    // The same API taking no idempotency key.
    builtins['bare'] = () => handy(api.url, { name: 'bare', title: 'Bare', api: () => api });
    const client = { clientId: 'handy-client', clientSecret: 'handy-secret' };
    hub = await startHub({ integrations: { handy: client, bare: client }, outbox: { waitMs: 30_000 } });
    // Linked as the callback would have stored them; the API takes any bearer token.
    for (const integration of ['handy', 'bare'])
      await hub.hub.integrations.accounts.connections.link({
        tenant: 'default',
        user: 'alice',
        integration,
        tokens: { accessToken: 'at-alice', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000 },
        scopes: ['write'],
      });
    alice = new Client({ name: 'handler-writes-test', version: '1.0.0' });
    await alice.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });

  afterAll(async () => {
    await alice?.close();
    await hub?.stop();
    await api?.close();
    delete builtins['handy'];
    delete builtins['bare'];
  });

  it('is listed as a queued write: its output schema also admits the job handle, and queue__job_status is there', async () => {
    const tools = (await alice.listTools()).tools;
    expect(tools.find((t) => t.name === 'handy__file_and_tag')?.outputSchema).toMatchObject({
      type: 'object',
      anyOf: [{ type: 'object', required: ['note'] }, { required: ['jobId', 'state'] }],
    });
    expect(tools.map((t) => t.name)).toContain('queue__job_status');
  });

  it('runs as a job: each write keyed from the job id, the read unkeyed, and the caller gets the handler result', async () => {
    const before = api.arrivals.length;
    const r = await alice.callTool({ name: 'handy__file_and_tag', arguments: { text: 'quarterly report' } });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'handy', limit: 1 });
    expect(job).toMatchObject({ tool: 'file_and_tag', state: 'done', attempts: 1, replaySafe: true, connectionId: expect.any(String) });
    expect(job!.connectionId).not.toBe('app');
    const sent = api.arrivals.slice(before).map((a) => [a.method, a.path, a.idempotencyKey]);
    expect(sent).toEqual([
      ['POST', '/notes', job!.id],
      ['POST', '/tags', `${job!.id}.2`],
      ['GET', '/notes', null],
    ]);
    const value = { note: expect.stringMatching(/^rec_/), noteKey: job!.id, tagKey: `${job!.id}.2`, readKey: null };
    // What the direct call returns for a handler's JSON value (normalise): its text, and the object as structured content.
    const structured = r.structuredContent as Record<string, unknown>;
    expect(structured).toEqual(value);
    expect(r).toEqual({ content: [{ type: 'text', text: JSON.stringify(structured, null, 2) }], structuredContent: structured });
    expect(api.appliedByKey.get(job!.id)).toBe(1);
    expect(api.appliedByKey.get(`${job!.id}.2`)).toBe(1);
  });

  it("a handler's own tool result, isError included, reaches the caller as it returned it, once", async () => {
    const r = await alice.callTool({ name: 'handy__refuse', arguments: {} });
    expect(r).toEqual({ content: [{ type: 'text', text: 'nothing to file today' }], isError: true });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'handy', limit: 1 });
    expect(job).toMatchObject({ tool: 'refuse', state: 'done', attempts: 1 });
  });

  it('a handler that throws fails its job at once, and the caller reads why, as from the direct call', async () => {
    const before = api.stats.applied;
    const r = await alice.callTool({ name: 'handy__explode', arguments: {} });
    expect(r).toEqual({
      content: [{ type: 'text', text: 'Handy: no quota left' }],
      isError: true,
      _meta: { 'switchboard/error': { code: 'source_failed', retryable: false } },
    });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'handy', limit: 1 });
    expect(job).toMatchObject({ tool: 'explode', state: 'failed', attempts: 1, lastError: 'no quota left' });
    expect(api.stats.applied - before).toBe(1);
  });

  it('a readOnly handler is not queued', async () => {
    const jobs = (await hub.hub.outbox.outbox.list({ integration: 'handy' })).length;
    const r = await alice.callTool({ name: 'handy__peek', arguments: {} });
    expect(r.structuredContent).toMatchObject({ key: null });
    expect((await hub.hub.outbox.outbox.list({ integration: 'handy' })).length).toBe(jobs);
  });

  it('a handler that gives up on a 503 runs again later with the same keys: the write it had made is replayed, not repeated', async () => {
    const replayed = api.stats.replayed;
    const r = await alice.callTool({ name: 'handy__two_writes', arguments: { text: 'twice?' } }, { timeout: 60_000 });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'handy', limit: 1 });
    expect(job).toMatchObject({ tool: 'two_writes', state: 'done', attempts: 2 });
    expect(r.structuredContent).toEqual({ note: expect.stringMatching(/^rec_/), runs: 2 });
    expect(api.appliedByKey.get(job!.id)).toBe(1);
    expect(api.appliedByKey.get(`${job!.id}.2`)).toBe(1);
    expect(api.stats.replayed - replayed).toBe(1);
  }, 60_000);

  it('without an idempotency key, a handler that had a write applied is not run again: its job fails at once', async () => {
    const applied = api.stats.applied;
    const r = await alice.callTool({ name: 'bare__two_writes', arguments: { text: 'once' } });
    expect(r).toEqual({
      content: [{ type: 'text', text: 'Bare: tags answered 503' }],
      isError: true,
      _meta: { 'switchboard/error': { code: 'source_failed', retryable: false } },
    });
    const [job] = await hub.hub.outbox.outbox.list({ integration: 'bare', limit: 1 });
    expect(job).toMatchObject({ tool: 'two_writes', state: 'failed', attempts: 1, replaySafe: false });
    expect(api.stats.applied - applied).toBe(1);
  });
});
