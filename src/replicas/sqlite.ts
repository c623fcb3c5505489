import { z } from 'zod';
import type { Db } from '../store/db.js';
import {
  DEFAULT_HEARTBEAT_MS,
  isAlive,
  PRUNE_AFTER_MS,
  type ReplicaLookup,
  type ReplicaRegistry,
  type ReplicaRegistryOptions,
  type ReplicaSelf,
} from './registry.js';

export const replicaRowSchema = z.object({ url: z.string(), heartbeat_at: z.coerce.number(), stopped_at: z.coerce.number().nullable() });

/**
 * The replica registry in the SQLite store: the processes sharing one data dir (several `serve`
 * on one machine). Times are the injected clock's, passed into SQL (STYLE.md §8).
 */
export class SqliteReplicaRegistry implements ReplicaRegistry {
  private self: ReplicaSelf | undefined;
  private readonly heartbeatMs: number;

  constructor(
    private readonly db: Db,
    private readonly opts: ReplicaRegistryOptions,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async register(self: ReplicaSelf): Promise<void> {
    this.self = self;
    const now = this.opts.clock.now();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM replicas WHERE heartbeat_at < ?').run(now - PRUNE_AFTER_MS);
      this.upsert(self, now);
    })();
  }

  async heartbeat(): Promise<void> {
    const self = this.self;
    if (!self) throw new Error('heartbeat before register');
    const now = this.opts.clock.now();
    // better-sqlite3 waits for another process's write lock on the event loop (busy_timeout): a
    // beat that waited would stall every request of this hub, beat after beat, while a CLI command
    // or another process holds the lock. A beat finding the store busy is skipped instead (liveness
    // allows three missed beats); nothing else runs on this connection meanwhile, JS being one thread.
    const wait = this.db.pragma('busy_timeout', { simple: true });
    this.db.pragma('busy_timeout = 0');
    try {
      const changed = this.db.prepare('UPDATE replicas SET heartbeat_at = ? WHERE id = ?').run(now, self.id).changes;
      if (changed === 0) this.upsert(self, now);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${Number(wait)}`);
    }
  }

  async lookup(id: string): Promise<ReplicaLookup | undefined> {
    const raw: unknown = this.db.prepare('SELECT url, heartbeat_at, stopped_at FROM replicas WHERE id = ?').get(id);
    if (raw === undefined) return undefined;
    const row = replicaRowSchema.parse(raw);
    return { url: row.url, alive: isAlive(row.heartbeat_at, this.opts.clock.now(), this.heartbeatMs, row.stopped_at) };
  }

  async live(): Promise<string[]> {
    const now = this.opts.clock.now();
    return this.db
      .prepare('SELECT url, heartbeat_at, stopped_at FROM replicas WHERE stopped_at IS NULL ORDER BY started_at DESC')
      .all()
      .map((raw) => replicaRowSchema.parse(raw))
      .filter((row) => isAlive(row.heartbeat_at, now, this.heartbeatMs, row.stopped_at))
      .map((row) => row.url);
  }

  async forget(): Promise<void> {
    const self = this.self;
    if (!self) return;
    this.self = undefined;
    this.db.prepare('UPDATE replicas SET stopped_at = ? WHERE id = ?').run(this.opts.clock.now(), self.id);
  }

  private upsert(self: ReplicaSelf, now: number): void {
    this.db
      .prepare(
        `INSERT INTO replicas (id, url, started_at, heartbeat_at, stopped_at) VALUES (@id, @url, @startedAt, @now, NULL)
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
      )
      .run({ id: self.id, url: self.url, startedAt: self.startedAt, now });
  }
}
