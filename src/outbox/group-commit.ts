import type { Transaction } from 'better-sqlite3';
import type { Db } from '../store/db.js';

/** A write waiting for its group's commit, and who hears its outcome. */
interface PendingWrite {
  op: () => unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}
type WriteOutcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/**
 * Writes asked for in one turn of the event loop, committed in one transaction. A commit (its WAL
 * write) is the dearest part of a write as small as the outbox's, and an outbox job makes four
 * (enqueue, claim, markSent, complete): a batch of sends asks for its markSents together, and its
 * answers come in together. Each write runs in its own savepoint and has its own outcome; each
 * caller hears only once the group is committed, so a write awaited is a write made durable.
 */
export class GroupCommit {
  private readonly tx: Transaction<(writes: PendingWrite[]) => WriteOutcome[]>;
  private pending: PendingWrite[] = [];
  private scheduled = false;

  constructor(db: Db) {
    // Nested in the group's transaction, better-sqlite3 makes this a savepoint: a write that throws
    // (an idempotency conflict, a constraint) is undone alone and its caller alone hears why.
    const one = db.transaction((op: () => unknown) => op());
    this.tx = db.transaction((writes: PendingWrite[]) =>
      writes.map((w): WriteOutcome => {
        try {
          return { ok: true, value: one(w.op) };
        } catch (err) {
          // SQLite ended the whole transaction itself (disk full, I/O error): nothing of the group stands.
          if (!db.inTransaction) throw err;
          return { ok: false, err };
        }
      }),
    );
  }

  /** Runs `op` (synchronous statements only) in the next group; resolves with its value once committed. */
  run<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // One turn: every write asked for by the callbacks that ran in this turn of the event loop.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const writes = this.pending;
    this.pending = [];
    let outcomes: WriteOutcome[];
    try {
      outcomes = this.tx.immediate(writes);
    } catch (err) {
      for (const w of writes) w.reject(err);
      return;
    }
    for (const [i, o] of outcomes.entries()) {
      if (o.ok) writes[i]!.resolve(o.value);
      else writes[i]!.reject(o.err);
    }
  }
}
