/**
 * A hub that stops loses no write (README, Outbound writes): writes its callers were waiting on,
 * held back by the integration's rate limit, stay queued when the hub stops, and a second hub on
 * the same data dir sends each of them once. The stop closes the callers' connections; that is not
 * their cancel. Alice calls on 2026-07-28, bob on a 2025 session, side by side; each gets its
 * job's handle. A 2025 session that ends while its write waits (the caller went away) leaves the
 * job queued too, and a caller's own cancel still cancels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type BucketApi, notesIntegration, startBucketApi } from '../fixtures/bucket-api.js';
import { type CallResult, connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { eventually, type RunningHub, startHub } from '../helpers/hub.js';

const jobRow = z.object({ id: z.string(), state: z.string(), text: z.string() });
/** Callers would wait this long for their write; the stop comes well within it. */
const WAIT_MS = 60_000;
const configOf = (api: BucketApi, perSecond: number) => ({
  // One write per 1000 s after the first: every later write waits in the outbox for its token.
  integrations: { notes: notesIntegration(api, { rateLimit: { perApp: { perSecond, burst: 1 } } }) },
  outbox: { waitMs: WAIT_MS },
});

describe('a hub stopping while write calls wait for their jobs', () => {
  let api: BucketApi;
  let a: RunningHub;
  let b: Hub | undefined;
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 10 });
    a = await startHub(configOf(api, 0.001));
    const bob = (await a.hub.tokens.create({ user: 'bob' })).token;
    clients.push(await connectClient('v2-auto', { transport: 'http', url: a.url, token: a.token }));
    clients.push(await connectClient('v2-legacy', { transport: 'http', url: a.url, token: bob }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await b?.stop();
    await a?.stop();
    await api?.close();
  });

  const jobs = (hub: Hub) =>
    z.array(jobRow).parse(hub.db.prepare("SELECT id, state, json_extract(args, '$.text') AS text FROM outbox_jobs ORDER BY text").all());

  it('leaves their jobs queued, answers each caller with its handle, and another hub sends each once', { timeout: 60_000 }, async () => {
    const [alice, bob] = clients as [FaceClient, FaceClient];
    // The first write takes the bucket's one token; the others wait for theirs.
    expect((await alice.callTool('notes__create', { text: 'a0-first' })).isError).toBe(false);
    const waiting: Promise<CallResult>[] = [
      alice.callTool('notes__create', { text: 'a1' }),
      bob.callTool('notes__create', { text: 'b1' }),
      alice.callTool('notes__create', { text: 'a2' }),
      bob.callTool('notes__create', { text: 'b2' }),
    ];
    await eventually(() => (jobs(a.hub).filter((j) => j.state === 'queued').length === 4 ? true : undefined));

    await a.hub.stop();

    const answers = await Promise.all(waiting);
    for (const r of answers) {
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ jobId: expect.any(String), state: 'queued' });
      expect(textOf(r)).toContain('queue__job_status');
    }
    const queued = Object.fromEntries(answers.map((r, i) => [['a1', 'b1', 'a2', 'b2'][i]!, (r.structuredContent as { jobId: string }).jobId]));

    // The next process on the data dir, at a rate that lets them all go.
    b = new Hub({ config: configSchema.parse({ ...configOf(api, 50), dataDir: a.dataDir, server: { port: 0 } }), log: silentLogger() });
    await b.start();
    await b.ready();
    const hub = b;
    const after = await eventually(() => {
      const all = jobs(hub);
      return all.every((j) => j.state === 'done') ? all : undefined;
    });
    expect(after.map((j) => j.text)).toEqual(['a0-first', 'a1', 'a2', 'b1', 'b2']);
    expect(api.stats.applied).toBe(5);
    for (const [text, id] of Object.entries(queued)) expect(api.appliedByKey.get(id), text).toBe(1);
  });
});
