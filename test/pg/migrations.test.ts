import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { appliedPgMigrations, migratePg, PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { openPgStore, type PgStore, sqlstateOf } from '../../src/store/pg/pool.js';
import { describePg, type FreshDatabase, freshDatabase } from '../helpers/postgres.js';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

/** Columns PostgreSQL has where SQLite uses its implicit rowid. */
const ROWID_STANDINS = new Set(['seq']);

interface UniqueKey {
  table: string;
  /** Column names; `(expr)` for an expression. */
  columns: string[];
  partial: boolean;
}

const keyText = (k: UniqueKey): string => `${k.table}(${k.columns.join(',')})${k.partial ? ' WHERE' : ''}`;

/** The SQLite schema after all its migrations: tables with their columns, and every unique key. */
function sqliteSchema(): { tables: Map<string, string[]>; unique: string[] } {
  const db = openDb({ file: ':memory:', clock: manualClock(T0) });
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  const tables = new Map<string, string[]>();
  const unique: string[] = [];
  for (const t of names) {
    const info = db.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string; type: string; pk: number }>;
    tables.set(t, info.map((c) => c.name).sort());
    // An INTEGER PRIMARY KEY is the rowid itself: unique, but no index lists it.
    const pk = info.filter((c) => c.pk > 0);
    if (pk.length === 1 && pk[0]?.type === 'INTEGER') unique.push(keyText({ table: t, columns: [pk[0].name], partial: false }));
    for (const ix of db.prepare(`PRAGMA index_list(${t})`).all() as Array<{ name: string; unique: number; partial: number }>) {
      if (ix.unique !== 1) continue;
      const cols = (db.prepare(`PRAGMA index_info(${ix.name})`).all() as Array<{ seqno: number; name: string | null }>)
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name ?? '(expr)');
      unique.push(keyText({ table: t, columns: cols, partial: ix.partial === 1 }));
    }
  }
  db.close();
  return { tables, unique: unique.sort() };
}

async function pgSchema(store: PgStore, lite: Map<string, string[]>): Promise<{ tables: Map<string, string[]>; unique: string[]; types: Map<string, string> }> {
  const cols = await store.query(
    `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );
  const tables = new Map<string, string[]>();
  const types = new Map<string, string>();
  for (const c of cols) {
    const t = String(c.table_name);
    tables.set(t, [...(tables.get(t) ?? []), String(c.column_name)]);
    types.set(`${t}.${String(c.column_name)}`, String(c.data_type));
  }
  const ixs = await store.query(
    `SELECT t.relname AS table_name, i.indpred IS NOT NULL AS partial,
            ARRAY(SELECT COALESCE(a.attname::text, '(expr)') FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum <> 0
                  ORDER BY k.n) AS columns
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND i.indisunique`,
  );
  const unique = ixs
    .map((r) => ({ table: String(r.table_name), columns: (r.columns as string[]).map(String), partial: r.partial === true }))
    .filter((k) => !(k.columns.length === 1 && ROWID_STANDINS.has(k.columns[0] ?? '') && !lite.get(k.table)?.includes(k.columns[0] ?? '')))
    .map(keyText)
    .sort();
  return { tables, unique, types };
}

describePg('PostgreSQL migrations', () => {
  let db: FreshDatabase;
  let store: PgStore;

  beforeAll(async () => {
    db = await freshDatabase();
    store = openPgStore({ url: db.url });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('builds on an empty database every table, column and unique key the SQLite migrations build', async () => {
    const clock = manualClock(T0);
    expect(await migratePg(store, clock)).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: T0 })));

    const lite = sqliteSchema();
    const got = await pgSchema(store, lite.tables);
    expect([...got.tables.keys()].sort()).toEqual([...lite.tables.keys()].sort());
    for (const [table, columns] of lite.tables) {
      const pgColumns = (got.tables.get(table) ?? []).filter((c) => !ROWID_STANDINS.has(c) || columns.includes(c));
      expect({ table, columns: pgColumns.sort() }).toEqual({ table, columns });
    }
    // The unique keys are the replicas' coordination (webhook dedupe, idempotency keys, one live
    // connection per user and integration, one active data key per tenant): the same set on both.
    expect(got.unique).toEqual(lite.unique);
    expect(got.unique).toContain('webhook_deliveries(integration,endpoint,delivery_id)');
    // Epoch milliseconds pass 2^31 (INTEGER); every *_at column is BIGINT.
    const narrow = [...got.types].filter(([col, type]) => col.endsWith('_at') && type !== 'bigint');
    expect(narrow).toEqual([]);
    // SQLite's schema_migrations is built by migrate() itself, so it is in both lists above.
    expect(lite.tables.has('schema_migrations')).toBe(true);
  });

  it('is a no-op when run again', async () => {
    const clock = manualClock(T0 + 60_000);
    expect(await migratePg(store, clock)).toEqual([]);
    expect(await appliedPgMigrations(store)).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: T0 })));
  });

  it('keeps one webhook delivery per (integration, endpoint, delivery id), and one inbox event per provider event id', async () => {
    const deliver = (event: string) =>
      store.exec(
        `INSERT INTO webhook_deliveries (integration, endpoint, delivery_id, event_id, received_at) VALUES ('gh', 'e1', 'd1', $1, $2)
         ON CONFLICT DO NOTHING`,
        [event, T0],
      );
    expect(await deliver('ev1')).toBe(1);
    expect(await deliver('ev2')).toBe(0);
    const event = (id: string, connection: string | null) =>
      store.exec(
        `INSERT INTO inbox_events (id, connection_id, integration, endpoint, type, provider_event_id, source, received_at, payload, state, next_attempt_at, updated_at)
         VALUES ($1, $2, 'gh', 'e1', 'push', 'p1', 'webhook', $3, $4, 'pending', $3, $3)
         ON CONFLICT (integration, COALESCE(connection_id, ''), provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING`,
        [id, connection, T0, Buffer.from('{}')],
      );
    expect(await event('i1', null)).toBe(1);
    expect(await event('i2', null)).toBe(0);
    expect(await event('i3', 'c1')).toBe(1);
    const rows = await store.query('SELECT id, received_at, payload FROM inbox_events ORDER BY seq');
    // BIGINT comes back a number (the pool's own int8 parser), BYTEA a Buffer.
    expect(rows).toEqual([
      { id: 'i1', received_at: T0, payload: Buffer.from('{}') },
      { id: 'i3', received_at: T0, payload: Buffer.from('{}') },
    ]);
    const dup = await store
      .exec(`INSERT INTO webhook_deliveries (integration, endpoint, delivery_id, event_id, received_at) VALUES ('gh', 'e1', 'd1', 'x', 0)`)
      .catch((err: unknown) => err);
    expect(sqlstateOf(dup)).toBe('23505');
  });
});

describePg('PostgreSQL migrations on replicas starting together', () => {
  let db: FreshDatabase;
  const stores: PgStore[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await db?.drop();
  });

  it('apply each migration once under the advisory lock, and both succeed', async () => {
    const clock = manualClock(T0);
    // A second migration proves the lock covers the whole run, not one migration at a time.
    // Numbered past every real one, so migrations added later keep this test as it is.
    const migrations = [...PG_MIGRATIONS, { version: 1000, name: 'probe', sql: 'CREATE TABLE probe (id BIGINT PRIMARY KEY)' }];
    const versions = migrations.map((m) => m.version);
    stores.push(openPgStore({ url: db.url }), openPgStore({ url: db.url }));
    const [a, b] = await Promise.all(stores.map((s) => migratePg(s, clock, migrations)));
    const all = [...(a ?? []), ...(b ?? [])].map((m) => m.version).sort((x, y) => x - y);
    expect(all).toEqual(versions);
    // One replica applied them all; the other waited and found nothing pending.
    expect([a?.length, b?.length].sort()).toEqual([0, versions.length]);
    expect((await appliedPgMigrations(stores[0]!)).map((m) => m.version)).toEqual(versions);
  });
});
