import type { Clock } from '../src/clock.js';
import type { ReplicaRegistry } from '../src/replicas/registry.js';
import { SqliteReplicaRegistry } from '../src/replicas/sqlite.js';
import { isSqlite, type HubStore } from '../src/store/bundle.js';

/** The replica registry on a store: its SQLite file's table, or PostgreSQL's (loaded on demand, as that store is). */
export async function replicaRegistryOf(store: HubStore, clock: Clock): Promise<ReplicaRegistry | undefined> {
  if (isSqlite(store)) return new SqliteReplicaRegistry(store.db, { clock });
  if (store.kind !== 'postgres') return undefined;
  const [{ isPostgres }, { PgReplicaRegistry }] = await Promise.all([import('../src/store/pg-bundle.js'), import('../src/replicas/pg.js')]);
  return isPostgres(store) ? new PgReplicaRegistry(store.pg, { clock }) : undefined;
}
