/**
 * A write waiting in the outbox goes to the site it was queued for, or nowhere (README: A base per
 * linked account). Alice queues a Jira comment for her site and, before it is sent, links her
 * account again to another site: the comment was sent there, with the new site's token. Now it is
 * sent to neither and fails saying why, while bob's write, queued beside hers, reaches his site. A
 * relink to the same site still sends it; a job queued before the hub kept its site is sent as it was.
 * Real MCP clients over HTTP, a Jira-like API on loopback (test/integrations/api-values-provider.ts),
 * the outbox worker stopped while the writes wait and run once the test has relinked.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { expectLinked, FakeProvider, linkAs } from './api-values-provider.js';
import { commentsOf, jiraWithComment, queuedWhile as queued } from './api-values-queue.js';

let provider: FakeProvider;
let hub: RunningHub;
const clients = new Map<string, FaceClient>();

beforeAll(async () => {
  provider = await FakeProvider.start();
  provider.cloudIds.set('alice', ['cloud-a']).set('bob', ['cloud-b']);
  hub = await startHub({ integrations: { jira: jiraWithComment(provider) }, outbox: { waitMs: 30_000 } });
  for (const user of ['alice', 'bob']) {
    const { token } = await hub.hub.tokens.create({ user });
    clients.set(user, await connectClient('v2-legacy', { transport: 'http', url: hub.url, token }));
    expectLinked(await linkAs(hub, new Browser(), provider, 'jira', user));
  }
});
afterAll(async () => {
  for (const c of clients.values()) await c.close();
  await hub.stop();
  await provider.close();
});
beforeEach(() => {
  provider.seen.length = 0;
});

const comments = () => commentsOf(provider);
const queuedWhile = (users: string[], meanwhile: () => Promise<void>) => queued(hub.hub, clients, users, meanwhile);
const relink = async (user: string, cloud: string) => {
  provider.cloudIds.set(user, [cloud]);
  expectLinked(await linkAs(hub, new Browser(), provider, 'jira', user));
};

it("alice's write queued before she relinked to another site is sent to neither site; bob's queued beside it reaches his", async () => {
  const [alice, bob] = await queuedWhile(['alice', 'bob'], () => relink('alice', 'cloud-c'));

  expect(alice).toMatchObject({ isError: true, errorCode: 'source_unavailable' });
  expect(textOf(alice!)).toContain(
    'Jira: Your Jira connection was linked again to another site after this write was queued; nothing was sent to either site. Call the tool again to make it on the site linked now.',
  );
  expect(bob!.isError, textOf(bob!)).toBe(false);
  expect(textOf(bob!)).toContain('"site": "cloud-b"');
  expect(comments()).toEqual(['/ex/jira/cloud-b/rest/api/3/issue/PRJ-1/comment bob']);
  // Failed, not queued for a later try: nothing will send it to the new site.
  const [job] = await hub.hub.outbox.outbox.list({ user: 'alice', limit: 1 });
  expect(job).toMatchObject({ state: 'failed', lastErrorCode: 'source_unavailable' });

  // Her next call is made, and sent, on the site she linked.
  const again = await clients.get('alice')!.callTool('jira__comment', { key: 'PRJ-1', body: 'again' });
  expect(again.isError, textOf(again)).toBe(false);
  expect(comments()).toContain('/ex/jira/cloud-c/rest/api/3/issue/PRJ-1/comment alice');
});

it('a write queued before a relink to the same site is sent there, with the token that relink got', async () => {
  const [alice] = await queuedWhile(['alice'], () => relink('alice', 'cloud-c'));

  expect(alice!.isError, textOf(alice!)).toBe(false);
  expect(comments()).toEqual(['/ex/jira/cloud-c/rest/api/3/issue/PRJ-1/comment alice']);
  // The relink read the account's sites with its new token: the comment carried that one.
  const linked = provider.seen.find((s) => s.path === '/oauth/token/accessible-resources')!;
  expect(provider.seen.find((s) => s.method === 'POST')!.token).toBe(linked.token);
});

it('a write queued before the hub kept which site it was for is sent to the connection as it is now, as before', async () => {
  const [alice] = await queuedWhile(['alice'], async () => {
    // As migration 26 leaves a job queued before it.
    const db = new Database(join(hub.dataDir, 'switchboard.db'));
    try {
      expect(db.prepare("UPDATE outbox_jobs SET site_digest = NULL WHERE user_id = 'alice' AND state = 'queued'").run().changes).toBe(1);
    } finally {
      db.close();
    }
    await relink('alice', 'cloud-d');
  });

  expect(alice!.isError, textOf(alice!)).toBe(false);
  expect(comments()).toEqual(['/ex/jira/cloud-d/rest/api/3/issue/PRJ-1/comment alice']);
});
