/**
 * A write waiting in the outbox goes to the site it was queued for, or nowhere, on PostgreSQL as
 * on SQLite (test/integrations/api-values-queued-relink.test.ts): alice relinks to another Jira
 * site while her comment waits, and it is sent to neither and fails saying why; bob's, queued
 * beside it, reaches his site; a job from before migration 13 (no site kept) is sent as it was.
 * An in-process hub on a fresh database, real MCP clients, the Jira-like API on loopback.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bindHttp } from '../../src/http/listener.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openPgStore } from '../../src/store/pg/pool.js';
import { Browser } from '../fakes/browser.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { type RunningHub, tmpDir } from '../helpers/hub.js';
import { describePg, type FreshDatabase, freshDatabase } from '../helpers/postgres.js';
import { expectLinked, FakeProvider, linkAs } from '../integrations/api-values-provider.js';
import { commentsOf, jiraWithComment, queuedWhile } from '../integrations/api-values-queue.js';

describePg('PostgreSQL: a queued write and a relink to another site', () => {
  let provider: FakeProvider;
  let db: FreshDatabase;
  let running: RunningHub;
  const dir = tmpDir('switchboard-pg-site-');
  const clients = new Map<string, FaceClient>();

  beforeAll(async () => {
    provider = await FakeProvider.start();
    provider.cloudIds.set('alice', ['cloud-a']).set('bob', ['cloud-b']);
    db = await freshDatabase();
    const config = configSchema.parse({
      integrations: { jira: jiraWithComment(provider) },
      outbox: { waitMs: 30_000 },
      store: { url: db.url },
      dataDir: dir.path,
      server: { port: 0 },
    });
    const hub = await Hub.open({ config, log: silentLogger(), listener: await bindHttp(config.server, { host: '127.0.0.1' }) });
    await hub.start();
    await hub.ready();
    const l = await hub.listen();
    running = { hub, url: l.url, port: l.port, token: '', dataDir: dir.path, stop: () => hub.stop() };
    for (const user of ['alice', 'bob']) {
      const { token } = await hub.tokens.create({ user });
      clients.set(user, await connectClient('v2-legacy', { transport: 'http', url: l.url, token }));
      expectLinked(await linkAs(running, new Browser(), provider, 'jira', user));
    }
  });
  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await running?.stop();
    await db?.drop();
    await provider?.close();
    dir.remove();
  });
  beforeEach(() => {
    provider.seen.length = 0;
  });

  const relink = async (user: string, cloud: string) => {
    provider.cloudIds.set(user, [cloud]);
    expectLinked(await linkAs(running, new Browser(), provider, 'jira', user));
  };

  it("alice's write queued before she relinked to another site is sent to neither; bob's reaches his site", async () => {
    const [alice, bob] = await queuedWhile(running.hub, clients, ['alice', 'bob'], () => relink('alice', 'cloud-c'));

    expect(alice).toMatchObject({ isError: true, errorCode: 'source_unavailable' });
    expect(textOf(alice!)).toContain('linked again to another site after this write was queued; nothing was sent to either site');
    expect(bob!.isError, textOf(bob!)).toBe(false);
    expect(commentsOf(provider)).toEqual(['/ex/jira/cloud-b/rest/api/3/issue/PRJ-1/comment bob']);
    const [job] = await running.hub.outbox.outbox.list({ user: 'alice', limit: 1 });
    expect(job).toMatchObject({ state: 'failed', lastErrorCode: 'source_unavailable' });
  });

  it('a job from before migration 13, which kept no site, is sent to the connection as it is now', async () => {
    const [alice] = await queuedWhile(running.hub, clients, ['alice'], async () => {
      const store = openPgStore({ url: db.url });
      try {
        expect(await store.exec("UPDATE outbox_jobs SET site_digest = NULL WHERE user_id = 'alice' AND state = 'queued'", [])).toBe(1);
      } finally {
        await store.close();
      }
      await relink('alice', 'cloud-d');
    });

    expect(alice!.isError, textOf(alice!)).toBe(false);
    expect(commentsOf(provider)).toEqual(['/ex/jira/cloud-d/rest/api/3/issue/PRJ-1/comment alice']);
  });
});
