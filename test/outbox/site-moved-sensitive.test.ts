/**
 * A sensitive write whose connection was linked again to another site before it was sent fails
 * saying so, in `queue list` too: that message is the hub's own words (src/integrations/connection-base.ts,
 * SiteMoved), naming nothing of the write. Any other failure of a sensitive write keeps its code
 * only, as before: bob's, whose error quotes his arguments. Real SQLite with its vault, the real
 * worker, and the connection's base read as the job sender reads it (ConnectionBases.ofId).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openSqliteStore, type SqliteHubStore } from '../../src/store/bundle.js';
import { hubVault } from '../../src/vault/open.js';
import { siteJobs } from './site-jobs.js';

const clock = manualClock(1_800_000_000_000);
const log = silentLogger();
let s: SqliteHubStore;
beforeEach(() => {
  s = openSqliteStore({ file: ':memory:', clock, log, vault: hubVault({ dataDir: ':memory:', clock, log }) });
});
afterEach(() => s.close());

it("a sensitive write sent nowhere after its connection moved site or was revoked says why in the queue; another failure's details stay withheld", async () => {
  const { link, queue, bases, worker: workerOf } = siteJobs(s, { clock, log });
  const alice = await queue('alice', 'cloud-a', { sensitive: true, arguments: { recipient: 'alice@example.test' } });
  const bob = await queue('bob', 'cloud-b', { sensitive: true, arguments: { recipient: 'bob@example.test' } });
  const carol = await queue('carol', 'cloud-d', { sensitive: true, arguments: { recipient: 'carol@example.test' } });
  await link('alice', 'cloud-c');
  await s.connections.markRevoked(carol.connectionId, 'revoked by the user');

  const worker = workerOf(async (job) => {
    const base = await bases.ofId(job.connectionId, job.siteDigest);
    throw new HubError('provider_redirect_refused', `${base} redirected to https://elsewhere.example.test/?to=${String(job.arguments['recipient'])}`);
  });
  await worker.drain();

  const listed = await s.outbox.list();
  expect(listed.find((j) => j.id === alice.id)).toMatchObject({
    state: 'failed',
    lastErrorCode: 'source_unavailable',
    lastError:
      'Your Jira connection was linked again to another site after this write was queued; nothing was sent to either site. Call the tool again to make it on the site linked now.',
  });
  expect(listed.find((j) => j.id === bob.id)).toMatchObject({
    state: 'failed',
    lastErrorCode: 'provider_redirect_refused',
    lastError: 'the send failed (provider_redirect_refused; details withheld: sensitive)',
  });
  // Carol's connection was revoked before her write went: that too is the hub's own words.
  expect(listed.find((j) => j.id === carol.id)).toMatchObject({
    state: 'failed',
    lastErrorCode: 'connection_revoked',
    lastError: `the Jira connection ${carol.connectionId} is gone`,
  });
  expect(JSON.stringify(listed)).not.toContain('example.test/?to=');
});
