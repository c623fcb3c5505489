/**
 * X (formerly Twitter) names its rate window `x-rate-limit-limit`, `x-rate-limit-remaining` and
 * `x-rate-limit-reset` (a Unix timestamp), and answers a spent window 429 without Retry-After
 * (docs.x.com, "Rate limits"). A queued post is sent again at that reset, not after a backoff of a
 * second or two into the same spent window, over and over until the cap on sends killed it. The
 * provider here is a local server speaking X's headers; the clock is the test's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { outcomeOf } from '../../src/outbox/classify.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker, type SendFn } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

describe("X's spent rate window (429, x-rate-limit-reset)", () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let server: Server;
  let base: string;
  let resetAt = 0;
  let posts = 0;

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    posts = 0;
    server = createServer((_req, res) => {
      posts++;
      if (clock.now() < resetAt)
        return void res
          .writeHead(429, {
            'content-type': 'application/json',
            'x-rate-limit-limit': '17',
            'x-rate-limit-remaining': '0',
            'x-rate-limit-reset': String(Math.floor(resetAt / 1000)),
          })
          .end('{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}');
      res
        .writeHead(201, {
          'content-type': 'application/json',
          'x-rate-limit-limit': '17',
          'x-rate-limit-remaining': '16',
          'x-rate-limit-reset': String(Math.floor(resetAt / 1000) + 86_400),
        })
        .end('{"data":{"id":"1445880548472328192","text":"hello"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    db.close();
    dir.remove();
  });

  // As the integration's sender does: the answer read by outcomeOf.
  const send: SendFn = async (_job, signal, beforeSend) => {
    await beforeSend();
    const res = await fetch(`${base}/2/tweets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"hello"}', signal });
    return outcomeOf(res, await res.text(), clock.now());
  };

  it('is sent again at the reset, without spending an attempt, and posted once the window reopens', async () => {
    resetAt = (Math.floor(clock.now() / 1000) + 40 * 60) * 1000;
    const w = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send });
    const { job } = await outbox.enqueue({ tenant: 'default', user: 'alice', connectionId: 'con_a', integration: 'x', tool: 'post', arguments: {} });
    await w.drain();
    const waiting = (await outbox.find(job.id))!;
    expect(waiting).toMatchObject({ state: 'queued', attempts: 1, paced: 1 });
    expect(waiting.nextAttemptAt).toBe(resetAt);

    clock.set(resetAt);
    await w.drain();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'done', attempts: 2, paced: 1 });
    expect(posts).toBe(2);
  });
});
