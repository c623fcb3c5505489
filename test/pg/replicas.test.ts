/**
 * The replica registry on PostgreSQL: the contract the SQLite registry keeps (test/replicas), with
 * the second replica on a pool of its own, as a replica on another host would be.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { PgReplicaRegistry } from '../../src/replicas/pg.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';
import { replicaRegistryContract } from '../replicas/contract.js';

let pg: MigratedDatabase;
/** A second pool on the same database: the other replica. */
let other: PgStore;

describePg('PostgreSQL replica registry', () => {
  beforeAll(async () => {
    pg = await migratedDatabase();
    other = openPgStore({ url: pg.url });
  });
  afterAll(async () => {
    await other?.close();
    await pg?.drop();
  });

  replicaRegistryContract('PostgreSQL', async () => {
    await pg.reset();
    const clock = manualClock();
    return { a: new PgReplicaRegistry(pg.store, { clock }), b: new PgReplicaRegistry(other, { clock }), clock };
  });

  it('heartbeats of many replicas at once each keep their own row', async () => {
    await pg.reset();
    const clock = manualClock();
    const regs = Array.from({ length: 10 }, (_, i) => new PgReplicaRegistry(i % 2 === 0 ? pg.store : other, { clock }));
    await Promise.all(regs.map((r, i) => r.register({ id: `r${i}`, url: `http://127.0.0.1:${9000 + i}`, startedAt: clock.now() })));
    clock.advance(1_000);
    await Promise.all(regs.flatMap((r) => [r.heartbeat(), r.heartbeat()]));
    const seen = await Promise.all(regs.map((_, i) => regs[(i + 1) % regs.length]!.lookup(`r${i}`)));
    expect(seen).toEqual(regs.map((_, i) => ({ url: `http://127.0.0.1:${9000 + i}`, alive: true })));
    expect(await pg.store.query('SELECT id FROM replicas')).toHaveLength(10);
  });
});
