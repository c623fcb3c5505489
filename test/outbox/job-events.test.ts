import { describe, expect, it } from 'vitest';
import { JobEvents } from '../../src/outbox/events.js';
import type { Job, JobState } from '../../src/outbox/types.js';

const job = (id: string, state: JobState): Job => ({
  id,
  tenant: 'default',
  user: 'alice',
  connectionId: 'c1',
  integration: 'notes',
  tool: 'create',
  idempotencyKey: id,
  keyFromCaller: false,
  argsHash: 'h',
  orderingKey: null,
  sensitive: false,
  replaySafe: true,
  state,
  attempts: 0,
  paced: 0,
  nextAttemptAt: 0,
  lastError: null,
  lastErrorCode: null,
  siteDigest: null,
  createdAt: 0,
  updatedAt: 0,
});

describe('JobEvents: a job another process settled', () => {
  it('poke makes each waiter read the job again as its owner, and answers it once final', async () => {
    const events = new JobEvents();
    let stored: Job = job('j1', 'queued');
    let reads = 0;
    const read = async () => {
      reads++;
      return stored;
    };
    const waiting = events.waitFor('j1', read, 60_000);
    await Promise.resolve();
    expect(events.waiting('j1')).toBe(true);
    // A poke while the job is still queued changes nothing.
    events.poke('j1');
    await new Promise((r) => setImmediate(r));
    stored = job('j1', 'done');
    events.poke('j1');
    expect((await waiting)?.state).toBe('done');
    expect(reads).toBe(3);
    expect(events.waiting('j1')).toBe(false);
  });

  it('a poke for a job nobody here waits for reads nothing; a waiter of another job is not woken', async () => {
    const events = new JobEvents();
    let reads = 0;
    const waiting = events.waitFor(
      'j2',
      async () => {
        reads++;
        return job('j2', 'queued');
      },
      50,
    );
    events.poke('other');
    expect(await waiting).toBeUndefined();
    expect(reads).toBe(1);
    expect(events.waiting('j2')).toBe(false);
  });

  it('a wait whose signal was aborted before it began answers at once and reads nothing', async () => {
    const events = new JobEvents();
    let reads = 0;
    const waiting = events.waitFor(
      'j3',
      async () => {
        reads++;
        return job('j3', 'queued');
      },
      60_000,
      AbortSignal.abort(),
    );
    expect(events.waiting('j3')).toBe(false);
    expect(await waiting).toBeUndefined();
    expect(reads).toBe(0);
  });
});
