import { afterAll, beforeAll, expect, it } from 'vitest';
import { HubError } from '../../src/errors.js';
import { openPgStore, type PgStore, sqlstateOf } from '../../src/store/pg/pool.js';
import { describePg, type FreshDatabase, freshDatabase } from '../helpers/postgres.js';

const PASSWORD = 'pw-n0t-for-logs';

/** Raises a real PostgreSQL error with the given SQLSTATE from the server. */
const raise = (sqlstate: string) => `DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '${sqlstate}'; END $$`;

const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );

describePg('PostgreSQL pool helpers', () => {
  let db: FreshDatabase;
  let store: PgStore;

  beforeAll(async () => {
    db = await freshDatabase();
    // The test cluster trusts loopback, so a password in the URL is accepted and ignored.
    const url = new URL(db.url);
    url.password = PASSWORD;
    store = openPgStore({ url: url.toString() });
    await store.exec('CREATE TABLE t (id TEXT PRIMARY KEY, at BIGINT NOT NULL, n INTEGER)');
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('reads BIGINT epoch milliseconds as numbers, and one past 2^53 as its exact text', async () => {
    const at = Date.UTC(2026, 2, 1);
    await store.exec('INSERT INTO t (id, at) VALUES ($1, $2), ($3, $4)', ['a', at, 'big', '9007199254740993']);
    expect(await store.query('SELECT id, at FROM t ORDER BY id')).toEqual([
      { id: 'a', at },
      { id: 'big', at: '9007199254740993' },
    ]);
    // COUNT(*) is a BIGINT too.
    expect(await store.one('SELECT COUNT(*) AS n FROM t', [], (r) => r.n)).toBe(2);
  });

  it('one and maybeOne insist on at most one row', async () => {
    const id = (r: Record<string, unknown>) => String(r.id);
    expect(await store.maybeOne('SELECT id FROM t WHERE id = $1', ['none'], id)).toBeUndefined();
    expect(await store.one('SELECT id FROM t WHERE id = $1', ['a'], id)).toBe('a');
    const none = await caught(store.one('SELECT id FROM t WHERE id = $1', ['none'], id));
    expect(none).toMatchObject({ code: 'store_failed' });
    const many = await caught(store.maybeOne('SELECT id FROM t', [], id));
    expect(many).toMatchObject({ code: 'store_failed', message: 'a query expected to return one row returned 2' });
  });

  it('runs a transaction again after a serialization failure or a deadlock, and commits once', async () => {
    for (const sqlstate of ['40001', '40P01']) {
      let runs = 0;
      const got = await store.tx(async (q) => {
        runs++;
        await q.exec('INSERT INTO t (id, at) VALUES ($1, 0)', [`retry-${sqlstate}`]);
        if (runs === 1) await q.exec(raise(sqlstate));
        return runs;
      });
      expect(got).toBe(2);
      expect(await store.query('SELECT id FROM t WHERE id = $1', [`retry-${sqlstate}`])).toEqual([{ id: `retry-${sqlstate}` }]);
    }
  });

  it('gives up after its attempts, and rolls back at once on any other error', async () => {
    let runs = 0;
    const exhausted = await caught(
      store.tx(
        async (q) => {
          runs++;
          await q.exec(raise('40001'));
        },
        { isolation: 'serializable', attempts: 3 },
      ),
    );
    expect(runs).toBe(3);
    expect(exhausted).toBeInstanceOf(HubError);
    expect(sqlstateOf(exhausted)).toBe('40001');

    runs = 0;
    const unique = await caught(
      store.tx(async (q) => {
        runs++;
        await q.exec("INSERT INTO t (id, at) VALUES ('rolled-back', 0)");
        await q.exec("INSERT INTO t (id, at) VALUES ('a', 0)");
      }),
    );
    expect(runs).toBe(1);
    expect(unique).toMatchObject({ code: 'store_failed' });
    expect(sqlstateOf(unique)).toBe('23505');
    expect(await store.query("SELECT id FROM t WHERE id = 'rolled-back'")).toEqual([]);
  });

  it('names the database without its password in errors, even where the server echoes it', async () => {
    // PostgreSQL quotes a value it cannot parse: the password reaches its message.
    const err = await caught(store.query('SELECT $1::integer', [PASSWORD]));
    expect(err).toBeInstanceOf(HubError);
    const e = err as HubError;
    expect(e.code).toBe('store_failed');
    expect(e.details?.sqlstate).toBe('22P02');
    expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain(PASSWORD);
    expect(e.message).toContain('invalid input syntax for type integer: "***"');
    expect(store.safeUrl).toContain('***@127.0.0.1');
    expect(store.safeUrl).not.toContain(PASSWORD);

    // Nothing listens on port 1: the connection error names the URL without the password too.
    const down = openPgStore({ url: `postgres://someone:${PASSWORD}@127.0.0.1:1/x` });
    try {
      const refused = await caught(down.tx(async () => 1));
      expect(refused).toMatchObject({ code: 'store_failed', details: { database: 'postgres://someone:***@127.0.0.1:1/x' } });
      expect(JSON.stringify({ m: (refused as Error).message, d: (refused as HubError).details })).not.toContain(PASSWORD);
    } finally {
      await down.close();
    }
  });
});
