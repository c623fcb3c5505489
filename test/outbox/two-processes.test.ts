/**
 * Two hub processes on one SQLite data dir without Redis (a `stdio` started by a desktop client
 * and a `serve` beside it, or two `serve`), each running a worker on the one queue: a write queued
 * by one and sent by the other. The waiting caller has no Redis to tell it the job is done; it
 * must find out by reading the job again, and answer with the write's result, not "still in the
 * outbound queue" once `outbox.waitMs` has passed.
 *
 * Hub A runs in this process with its worker stopped, so every job it queues is sent by B, the
 * real CLI (`switchboard serve`, built) on A's data dir. Alice and bob call side by side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BucketApi, notesIntegration, startBucketApi } from '../fixtures/bucket-api.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { type RunningHub, startHub } from '../helpers/hub.js';
import { type ServeBeside, serveBeside } from './serve-beside.js';

/** Past this a caller gets "still in the outbound queue": the answer when the job's end went unseen. */
const WAIT_MS = 20_000;

describe('a write queued by one hub process and sent by another on the same data dir', () => {
  let api: BucketApi;
  let a: RunningHub;
  let b: ServeBeside | undefined;
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 10, echo: true });
    const config = {
      integrations: {
        notes: notesIntegration(api),
      },
      outbox: { waitMs: WAIT_MS },
    };
    a = await startHub(config);
    // A queues, B sends: A's worker takes nothing.
    await a.hub.outbox.worker.stop();
    b = await serveBeside(a, config, 'two-processes');
    const bob = (await a.hub.tokens.create({ user: 'bob' })).token;
    for (const token of [a.token, bob]) clients.push(await connectClient('v2-auto', { transport: 'http', url: a.url, token }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await b?.stop();
    await a?.stop();
    await api?.close();
  });

  it("answers each caller with its own write's result once the other process has sent it", { timeout: 60_000 }, async () => {
    const [alice, bob] = clients as [FaceClient, FaceClient];
    const results = await Promise.all([
      alice.callTool('notes__create', { text: 'alice-1' }),
      bob.callTool('notes__create', { text: 'bob-1' }),
      alice.callTool('notes__create', { text: 'alice-2' }),
    ]);
    const texts = results.map((r) => textOf(r));
    for (const t of texts) expect(t).not.toContain('still in the outbound queue');
    expect(texts[0]).toContain('"text": "alice-1"');
    expect(texts[1]).toContain('"text": "bob-1"');
    expect(texts[2]).toContain('"text": "alice-2"');
    expect(results.every((r) => !r.isError)).toBe(true);
    // Sent by B (A's worker never ran), each once.
    expect(a.hub.outbox.worker.claimedOnIdle).toBe(0);
    expect(api.stats.applied).toBe(3);
    expect([...api.appliedByKey.values()].every((n) => n === 1)).toBe(true);
  });
});
