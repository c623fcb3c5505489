import type { Queryable } from '../store/pg/pool.js';
import {
  DEFAULT_HEARTBEAT_MS,
  isAlive,
  PRUNE_AFTER_MS,
  type ReplicaLookup,
  type ReplicaRegistry,
  type ReplicaRegistryOptions,
  type ReplicaSelf,
} from './registry.js';
import { replicaRowSchema } from './sqlite.js';

const parse = (row: unknown) => replicaRowSchema.parse(row);

/**
 * The replica registry on PostgreSQL (PG migration 5): replicas on several hosts sharing one
 * database. Every replica writes its own row only, so the statements need no locking; the clock
 * is the replica's own, passed in, as in every repository here (replicas' clocks are assumed to
 * agree within a heartbeat interval, as NTP keeps them).
 */
export class PgReplicaRegistry implements ReplicaRegistry {
  private self: ReplicaSelf | undefined;
  private readonly heartbeatMs: number;

  constructor(
    private readonly db: Queryable,
    private readonly opts: ReplicaRegistryOptions,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async register(self: ReplicaSelf): Promise<void> {
    this.self = self;
    const now = this.opts.clock.now();
    await this.db.exec('DELETE FROM replicas WHERE heartbeat_at < $1', [now - PRUNE_AFTER_MS]);
    await this.upsert(self, now);
  }

  async heartbeat(): Promise<void> {
    const self = this.self;
    if (!self) throw new Error('heartbeat before register');
    const now = this.opts.clock.now();
    const changed = await this.db.exec('UPDATE replicas SET heartbeat_at = $2 WHERE id = $1', [self.id, now]);
    if (changed === 0) await this.upsert(self, now);
  }

  async lookup(id: string): Promise<ReplicaLookup | undefined> {
    const row = await this.db.maybeOne('SELECT url, heartbeat_at, stopped_at FROM replicas WHERE id = $1', [id], parse);
    if (row === undefined) return undefined;
    return { url: row.url, alive: isAlive(row.heartbeat_at, this.opts.clock.now(), this.heartbeatMs, row.stopped_at) };
  }

  async live(): Promise<string[]> {
    const now = this.opts.clock.now();
    const rows = await this.db.query('SELECT url, heartbeat_at, stopped_at FROM replicas WHERE stopped_at IS NULL ORDER BY started_at DESC', [], parse);
    return rows.filter((row) => isAlive(row.heartbeat_at, now, this.heartbeatMs, row.stopped_at)).map((row) => row.url);
  }

  async forget(): Promise<void> {
    const self = this.self;
    if (!self) return;
    this.self = undefined;
    await this.db.exec('UPDATE replicas SET stopped_at = $2 WHERE id = $1', [self.id, this.opts.clock.now()]);
  }

  private async upsert(self: ReplicaSelf, now: number): Promise<void> {
    await this.db.exec(
      `INSERT INTO replicas (id, url, started_at, heartbeat_at, stopped_at) VALUES ($1, $2, $3, $4, NULL)
       ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL`,
      [self.id, self.url, self.startedAt, now],
    );
  }
}
