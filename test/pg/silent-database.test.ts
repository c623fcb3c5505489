import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { HubError } from '../../src/errors.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { tmpDir } from '../helpers/hub.js';
import { describePg, type FreshDatabase, freshDatabase } from '../helpers/postgres.js';
import { runCommand, serveProcess, type Serving, sharedMasterKey } from './hub-support.js';
import { type SilentRelay, startSilentRelay } from './silent-relay.js';

/**
 * A database that stops answering without refusing (SIGSTOP, a partition, a failover's old
 * address): queries, transactions and new connections fail within the store's timeouts as the
 * same `store_failed` a refused connection gives, so /mcp answers 503 `auth_unavailable` with
 * Retry-After instead of holding the request for ever.
 */
const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );

/** How long `p` took to settle, and with what. */
async function timed(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  const err = await caught(p);
  return { ms: performance.now() - t0, err };
}

describePg('a PostgreSQL server gone silent', () => {
  let db: FreshDatabase;
  let relay: SilentRelay;
  let store: PgStore | undefined;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await relay?.close();
    await store?.close().catch(() => {});
    store = undefined;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('fails a query, a transaction and a new connection within the timeouts, as store_failed', async () => {
    relay = await startSilentRelay(db.url);
    store = openPgStore({ url: relay.through(db.url), max: 2, connectTimeoutMs: 300, queryTimeoutMs: 300 });
    // One pooled connection, idle and live, before the silence.
    expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    relay.silence();

    const query = await timed(store.query('SELECT 1'));
    expect(query.err).toBeInstanceOf(HubError);
    expect(query.err).toMatchObject({ code: 'store_failed', details: { database: store.safeUrl } });
    expect(query.ms).toBeLessThan(3_000);

    const tx = await timed(store.tx((q) => q.query('SELECT 1')));
    expect(tx.err).toMatchObject({ code: 'store_failed' });
    expect(tx.ms).toBeLessThan(3_000);

    // Both slots taken by transactions on the silent server: a third caller's wait for one is bounded too.
    const held = [store.tx((q) => q.query('SELECT 1')), store.tx((q) => q.query('SELECT 1'))].map(caught);
    const queued = await timed(store.query('SELECT 1'));
    expect(queued.err).toMatchObject({ code: 'store_failed' });
    expect(queued.ms).toBeLessThan(3_000);
    for (const e of await Promise.all(held)) expect(e).toMatchObject({ code: 'store_failed' });
  });

  it('answers /mcp with 503 auth_unavailable and Retry-After, within the default timeouts', async () => {
    relay = await startSilentRelay(db.url);
    const dir = tmpDir('switchboard-pg-silent-');
    const env = { DATABASE_URL: relay.through(db.url), SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
    let hub: Serving | undefined;
    try {
      hub = await serveProcess(['--data', join(dir.path, 'hub-data')], dir.path, env);
      const made = await runCommand(['tokens', 'create', '--user', 'alice', '--data', join(dir.path, 'cli-data')], dir.path, env);
      expect(made.code, made.stderr).toBe(0);
      const initialize = () =>
        fetch(hub!.url, {
          method: 'POST',
          signal: AbortSignal.timeout(25_000),
          headers: { authorization: `Bearer ${made.stdout.trim()}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'silent-db', version: '1' } },
          }),
        });
      expect((await initialize()).status).toBe(200);
      relay.silence();

      const t0 = performance.now();
      const res = await initialize();
      const body = (await res.json()) as { error?: { data?: { code?: string } } };
      expect({ status: res.status, retryAfter: res.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '5' });
      expect(JSON.stringify(body)).toContain('auth_unavailable');
      // The 10 s query timeout (or the 5 s connect timeout), with room for two busy cores.
      expect(performance.now() - t0).toBeLessThan(15_000);
    } finally {
      // The hub's shutdown would wait on the silent server; the relay's close cuts its sockets first.
      await relay.close();
      await hub?.stop();
      dir.remove();
    }
  }, 60_000);
});
