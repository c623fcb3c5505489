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

type Answer = { status: number; headers?: Record<string, string>; body: string };

describe('403 answers that are rate limits (GitHub, Google, Salesforce)', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let clock: ReturnType<typeof manualClock>;
  let outbox: SqliteOutbox;
  let server: Server;
  let base: string;
  /** What the provider answers next, per connection (the token it is called with). */
  const script = new Map<string, Answer[]>();
  const applied: string[] = [];

  beforeEach(async () => {
    dir = tmpDir();
    clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    outbox = new SqliteOutbox(db, clock);
    applied.length = 0;
    server = createServer((req, res) => {
      const who = String(req.headers.authorization);
      const a = script.get(who)?.shift() ?? { status: 201, body: '{"id":1}' };
      if (a.status === 201) applied.push(who);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.body);
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
  const send: SendFn = async (job, signal, beforeSend) => {
    await beforeSend();
    const res = await fetch(`${base}/repos/o/r/issues`, { method: 'POST', headers: { authorization: job.connectionId }, body: '{}', signal });
    return outcomeOf(res, await res.text(), clock.now());
  };

  it('waits and sends again without spending an attempt; a plain 403 still fails at once', async () => {
    const w = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send, maxAttempts: 1 });
    const resetAt = Math.floor(clock.now() / 1000) + 90;
    script.set('con_alice', [{ status: 403, headers: { 'retry-after': '60' }, body: '{"message":"You have exceeded a secondary rate limit."}' }]);
    script.set('con_bob', [
      {
        status: 403,
        headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) },
        body: '{"message":"API rate limit exceeded for user ID 2."}',
      },
    ]);
    script.set('con_carol', [{ status: 403, body: '{"error":{"code":403,"errors":[{"reason":"userRateLimitExceeded"}]}}' }]);
    script.set('con_dave', [{ status: 403, body: '{"message":"Resource not accessible by integration"}' }]);
    const ids: Record<string, string> = {};
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const { job } = await outbox.enqueue({ tenant: 'default', user, connectionId: `con_${user}`, integration: 'gh', tool: 'create_issue', arguments: {} });
      ids[user] = job.id;
    }
    await w.drain();
    const now = clock.now();
    const alice = (await outbox.find(ids.alice!))!;
    const bob = (await outbox.find(ids.bob!))!;
    const carol = (await outbox.find(ids.carol!))!;
    expect(alice).toMatchObject({ state: 'queued', attempts: 1, paced: 1 });
    expect(alice.nextAttemptAt - now).toBe(60_000);
    expect(bob).toMatchObject({ state: 'queued', attempts: 1, paced: 1 });
    expect(bob.nextAttemptAt).toBe(resetAt * 1000);
    expect(carol).toMatchObject({ state: 'queued', paced: 1 });
    expect(await outbox.find(ids.dave!)).toMatchObject({ state: 'failed', attempts: 1, paced: 0 });
    expect(applied).toEqual([]);
    clock.set(Math.max(alice.nextAttemptAt, bob.nextAttemptAt, carol.nextAttemptAt));
    await w.drain();
    // maxAttempts 1, and still sent again: a rate limit spent no attempt.
    for (const u of ['alice', 'bob', 'carol']) expect(await outbox.find(ids[u]!)).toMatchObject({ state: 'done', attempts: 2, paced: 1 });
    expect(applied.sort()).toEqual(['con_alice', 'con_bob', 'con_carol']);
  });
});
