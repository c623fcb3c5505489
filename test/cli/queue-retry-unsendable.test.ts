/**
 * `switchboard queue retry` of a write that can never be sent: refused, saying why, where it was
 * put back and failed the same way at its next send. One whose connection was linked to another
 * site since it was queued (the write goes to its own site or nowhere): bob's, failed beside it on
 * his unmoved connection, is retried; alice's is retried once her connection is linked back to its
 * site, and then sent there. One whose connection was revoked: a new link is a new connection, so
 * the write queued through the old one goes nowhere. The CLI runs as its own process on the data
 * dir while this process plays the hub's outbox, its sends reading the connection's base as the
 * job sender does (ConnectionBases.ofId).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openSqliteStore, type SqliteHubStore } from '../../src/store/bundle.js';
import { hubVault } from '../../src/vault/open.js';
import { siteJobs } from '../outbox/site-jobs.js';
import { runCli, tmpDir } from '../helpers/hub.js';

const clock = manualClock(Date.now() - 60_000);
const log = silentLogger();
let dir: ReturnType<typeof tmpDir>;
let data: string;
let s: SqliteHubStore;
beforeEach(() => {
  dir = tmpDir();
  data = join(dir.path, 'data');
  s = openSqliteStore({ file: join(data, 'switchboard.db'), clock, log, vault: hubVault({ dataDir: data, clock, log }) });
});
afterEach(() => {
  s.close();
  dir.remove();
});

it("a write whose connection moved site is not retried, saying why; bob's beside it is, and alice's once her connection is back on its site", async () => {
  const cli = (...args: string[]) => runCli(['queue', ...args, '--data', data], dir.path);
  const { link, queue, bases, worker: workerOf } = siteJobs(s, { clock, log });
  const alice = await queue('alice', 'cloud-a');
  const bob = await queue('bob', 'cloud-b');
  await link('alice', 'cloud-c');

  // Bob's site refuses the first comment (422): failed, and a retry of it may go.
  const sent: string[] = [];
  let refuse = true;
  const worker = workerOf(async (job) => {
    sent.push(`${await bases.ofId(job.connectionId, job.siteDigest)} ${job.user}`);
    return refuse ? { status: 422, body: 'not now' } : { status: 201, body: 'ok' };
  });
  await worker.drain();
  expect(sent).toEqual(['https://api.example.test/ex/jira/cloud-b bob']);
  expect(await s.outbox.find(alice.id)).toMatchObject({ state: 'failed', lastErrorCode: 'source_unavailable' });

  const refused = await cli('retry', alice.id);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toBe('');
  expect(refused.stderr).toContain(
    `switchboard: error (bad_request): job ${alice.id} is not retried: its jira connection was linked to another site since this write was queued, and a queued write goes to its own site or nowhere, so it will not be sent. Calling the tool again makes the write on the site linked now.\n`,
  );
  expect(await s.outbox.find(alice.id)).toMatchObject({ state: 'failed' });
  expect(await cli('retry', bob.id)).toMatchObject({ code: 0, stdout: `${bob.id} queued\n` });

  // Linked back to the site it was queued for, alice's write can be sent there again.
  await link('alice', 'cloud-a');
  expect(await cli('retry', alice.id)).toMatchObject({ code: 0, stdout: `${alice.id} queued\n` });
  refuse = false;
  sent.length = 0;
  // The CLI stamped the retries with its own clock: the worker's catches up with it.
  clock.set(Date.now());
  await worker.drain();
  expect(sent.sort()).toEqual(['https://api.example.test/ex/jira/cloud-a alice', 'https://api.example.test/ex/jira/cloud-b bob']);
  expect([(await s.outbox.find(alice.id))?.state, (await s.outbox.find(bob.id))?.state]).toEqual(['done', 'done']);
});

it("a write whose connection was revoked is not retried, saying to link again; bob's beside it, failed on a live connection, is", async () => {
  const cli = (...args: string[]) => runCli(['queue', ...args, '--data', data], dir.path);
  const { link, queue, bases, worker: workerOf } = siteJobs(s, { clock, log });
  const alice = await queue('alice', 'cloud-a');
  const bob = await queue('bob', 'cloud-b');
  expect(await s.connections.markRevoked(alice.connectionId, 'revoked by the user')).toBe(true);

  const worker = workerOf(async (job) => {
    await bases.ofId(job.connectionId, job.siteDigest);
    return { status: 422, body: 'not now' };
  });
  await worker.drain();
  expect(await s.outbox.find(alice.id)).toMatchObject({ state: 'failed', lastErrorCode: 'connection_revoked' });
  expect(await s.outbox.find(bob.id)).toMatchObject({ state: 'failed' });

  // A new link is a new connection: the write queued through the revoked one still goes nowhere.
  const relinked = await link('alice', 'cloud-a');
  expect(relinked.id).not.toBe(alice.connectionId);
  const refused = await cli('retry', alice.id);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(
    `switchboard: error (bad_request): job ${alice.id} is not retried: its jira connection was revoked since this write was queued, and a queued write goes through its own connection or nowhere, so it will not be sent. Link the account again and call the tool again.\n`,
  );
  expect(await s.outbox.find(alice.id)).toMatchObject({ state: 'failed' });
  expect(await cli('retry', bob.id)).toMatchObject({ code: 0, stdout: `${bob.id} queued\n` });
});
