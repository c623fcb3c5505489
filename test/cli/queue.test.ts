import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { JobEvents } from '../../src/outbox/events.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { OutboxWorker } from '../../src/outbox/worker.js';
import { openDb, type Db } from '../../src/store/db.js';
import { runCli, tmpDir } from '../helpers/hub.js';

/** The CLI runs as its own process on the data dir while this process plays the hub's outbox. */
describe('switchboard queue list | retry | purge', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let db: Db;
  let outbox: SqliteOutbox;
  let healthy: boolean;
  const cli = (...args: string[]) => runCli(['queue', ...args, '--data', data], dir.path);

  beforeEach(() => {
    dir = tmpDir();
    data = join(dir.path, 'data');
    db = openDb({ file: join(data, 'switchboard.db'), clock: manualClock(Date.now() - 60_000) });
    healthy = false;
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('a dead job is listed, retried from the CLI, then sent: done', async () => {
    const clock = manualClock(Date.now() - 60_000);
    outbox = new SqliteOutbox(db, clock);
    const send = async () => (healthy ? { status: 200, body: 'ok' } : { status: 503, body: 'down' });
    const worker = new OutboxWorker({ queue: outbox, events: new JobEvents(), clock, log: silentLogger(), send, maxAttempts: 1 });
    const { job } = await outbox.enqueue({ tenant: 'default', user: 'alice', connectionId: 'c', integration: 'acme', tool: 'create', arguments: { a: 1 } });
    await worker.drain();
    const listed = await cli('list', '--state', 'dead', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: job.id, state: 'dead', attempts: 1, lastError: expect.stringContaining('503') })]);
    expect((await cli('list', '--state', 'bogus')).code).not.toBe(0);
    const retried = await cli('retry', job.id);
    expect(retried).toMatchObject({ code: 0, stdout: `${job.id} queued\n` });
    expect((await cli('retry', job.id)).code).not.toBe(0);
    healthy = true;
    clock.set(Date.now());
    await worker.drain();
    expect(await outbox.find(job.id)).toMatchObject({ state: 'done', attempts: 1 });
    expect((await cli('purge', '--state', 'done', '--older-than', '1h')).stdout).toBe('purged 0 done jobs\n');
    expect((await cli('purge', '--state', 'done', '--older-than', '0s')).stdout).toBe('purged 1 done jobs\n');
    expect((await cli('list')).stdout).toBe('no jobs\n');
  });

  it('list shows the newest 100 by default, says when there may be more, and takes --limit', async () => {
    outbox = new SqliteOutbox(db, manualClock(Date.now() - 60_000));
    for (let i = 0; i < 101; i++)
      await outbox.enqueue({ tenant: 'default', user: 'alice', connectionId: 'c', integration: 'acme', tool: 'create', arguments: { i } });
    const first = await cli('list', '--json');
    expect(JSON.parse(first.stdout)).toHaveLength(100);
    expect(first.stderr).toContain('showing the newest 100 jobs; there may be more: --limit N (up to 10000) shows more');
    const all = await cli('list', '--limit', '1000', '--json');
    expect(JSON.parse(all.stdout)).toHaveLength(101);
    expect(all.stderr).not.toContain('there may be more');
    const bad = await cli('list', '--limit', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit 0: use a whole number from 1 to 10000');
  });
});
