/**
 * The store of the tool names replicas hand out (src/store/held-names.ts): one contract, run on
 * PostgreSQL with two pools playing two replicas and on the in-memory store the catalog tests use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeldNamesStore, MemoryHeldNames } from '../../src/store/held-names.js';
import { PgHeldNames } from '../../src/store/pg/held-names.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';

type Pair = (maxIdentities: number) => Promise<[HeldNamesStore, HeldNamesStore]>;

function contract(pair: Pair): void {
  it('stores an identity’s names once at the version it was read at, and answers a stale put with what is stored', async () => {
    const [r0, r1] = await pair(1_000);
    expect(await r0.version()).toBe(0);
    expect(await r1.since('tool', 0)).toEqual({ version: 0, entries: [] });
    expect(await r0.put('tool', 'default/bob', 0, [['echo', 'B\0echo']])).toEqual({ stored: true, version: 1 });
    // Another replica that had read nothing for bob stores nothing, and is told what is stored.
    const stale = await r1.put('tool', 'default/bob', 0, [['echo', 'A\0echo']]);
    expect(stale).toEqual({ stored: false, entry: { identity: 'default/bob', version: 1, names: [['echo', 'B\0echo']] } });
    expect(await r1.version()).toBe(1);
    const names: Array<[string, string]> = [
      ['echo', 'B\0echo'],
      ['echo_x', 'A\0echo'],
    ];
    expect(await r1.put('tool', 'default/bob', 1, names)).toEqual({ stored: true, version: 2 });
    // Prompts are held apart.
    expect(await r0.put('prompt', 'default/bob', 0, [['greet', 'B\0greet']])).toEqual({ stored: true, version: 3 });
    expect(await r0.since('tool', 1)).toEqual({ version: 3, entries: [{ identity: 'default/bob', version: 2, names }] });
    expect((await r0.since('prompt', 0)).entries.map((e) => e.identity)).toEqual(['default/bob']);
  });

  it('stores one of two puts made at once for one identity', async () => {
    const [r0, r1] = await pair(1_000);
    const outcomes = await Promise.all([r0.put('tool', 'default/ann', 0, [['echo', 'A\0echo']]), r1.put('tool', 'default/ann', 0, [['echo', 'B\0echo']])]);
    expect(outcomes.filter((o) => o.stored)).toHaveLength(1);
    const { entries } = await r0.since('tool', 0);
    const lost = outcomes.find((o) => !o.stored);
    expect(lost).toEqual({ stored: false, entry: entries[0] });
  });

  it('keeps the identities of a kind put most recently past its bound', async () => {
    const [r0, r1] = await pair(2);
    for (const user of ['u1', 'u2', 'u3']) await r0.put('tool', user, 0, [['echo', 'B\0echo']]);
    await r1.put('prompt', 'u1', 0, [['greet', 'B\0greet']]);
    expect((await r1.since('tool', 0)).entries.map((e) => e.identity)).toEqual(['u2', 'u3']);
    expect((await r1.since('prompt', 0)).entries.map((e) => e.identity)).toEqual(['u1']);
  });
}

describe('MemoryHeldNames', () => {
  contract(async (max) => {
    const store = new MemoryHeldNames(max);
    return [store, store];
  });
});

describePg('PgHeldNames', () => {
  let pg: MigratedDatabase;
  let replica: PgStore;
  beforeAll(async () => {
    pg = await migratedDatabase();
    replica = openPgStore({ url: pg.url });
  });
  afterAll(async () => {
    await replica?.close();
    await pg?.drop();
  });
  contract(async (max) => {
    await pg.reset();
    return [new PgHeldNames(pg.store, max), new PgHeldNames(replica, max)];
  });
});
