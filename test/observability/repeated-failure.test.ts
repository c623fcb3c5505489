/**
 * A worker whose claim fails on every tick (the store away) logged a line per tick: three workers
 * of each replica wrote one a second each while PostgreSQL was down. Now the failure is logged when
 * it starts, when its reason changes, once a minute while it lasts, and once when it ends.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { RepeatedFailure } from '../../src/observability/repeated-failure.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import type { OutboxQueue } from '../../src/outbox/types.js';
import { OutboxWorker } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

const messages = (lines: readonly string[]) => lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string; times?: number });

describe('a failure met on every tick', () => {
  it('is told when it starts, when its reason changes, once a minute while it lasts, and when it ends', () => {
    const lines: string[] = [];
    let now = 0;
    const f = new RepeatedFailure(capturedLogger(lines), 'the worker could not claim jobs', () => now);
    for (let i = 0; i < 50; i++, now += 1_000) f.failed(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(messages(lines).map((m) => m.msg)).toEqual(['the worker could not claim jobs; it tries again']);
    f.failed(new Error('the database system is starting up'));
    for (let i = 0; i < 70; i++, now += 1_000) f.failed(new Error('the database system is starting up'));
    f.succeeded();
    f.succeeded();
    const told = messages(lines);
    expect(told.map((m) => [m.err, m.times])).toEqual([
      ['connect ECONNREFUSED 127.0.0.1:5432', undefined],
      ['the database system is starting up', 51],
      // A minute on, with the count so far.
      ['the database system is starting up', 112],
      [undefined, 121],
    ]);
    expect(told.at(-1)!.msg).toBe('the worker could not claim jobs no longer: it works again');
    // The next outage is news again.
    f.failed(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(lines).toHaveLength(5);
  });
});

describe('the outbox worker with its store away', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let db: Db | undefined;
  let worker: OutboxWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
    db?.close();
    dir?.remove();
  });

  it('logs one line for a hundred failed claims, and one when the store answers again', async () => {
    dir = tmpDir();
    const clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    const outbox = new SqliteOutbox(db, clock);
    const state = { down: true, claims: 0 };
    // The store's own claim, failing as a store that cannot be reached does while `down`.
    const queue: OutboxQueue = Object.create(outbox, {
      claim: {
        value: (...args: Parameters<OutboxQueue['claim']>) => {
          state.claims++;
          return state.down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : outbox.claim(...args);
        },
      },
    });
    const lines: string[] = [];
    worker = new OutboxWorker({
      queue,
      events: new JobEvents(),
      clock,
      log: capturedLogger(lines, 'info'),
      send: async () => ({ status: 200, body: '' }),
      idleMs: 2,
    });
    worker.start();
    await eventually(() => state.claims >= 100);
    expect(messages(lines).filter((m) => m.msg.startsWith('the outbox worker could not claim jobs'))).toHaveLength(1);
    state.down = false;
    await eventually(() => messages(lines).some((m) => m.msg === 'the outbox worker could not claim jobs no longer: it works again'));
    expect(messages(lines).filter((m) => m.level >= 50)).toHaveLength(1);
  });
});
