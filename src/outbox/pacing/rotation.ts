/**
 * Waiters per connection, served in turn: `next` takes the oldest waiter of the connection whose
 * turn it is and sends that connection to the back. A connection that joins goes to the back as
 * well, behind the ones already waiting: put first, a connection that is served one request at a
 * time (its own bucket lets them out at the rate the app bucket serves them) would rejoin first
 * after every turn and take every token, however long another connection had been waiting.
 * A waiter so waits for at most one token per other connection waiting (round-robin, as a fair
 * queue per flow does).
 */
export class Rotation<T> {
  /** The Map's order is the rotation. */
  private readonly queues = new Map<string, T[]>();

  /** Connections with someone waiting. */
  get size(): number {
    return this.queues.size;
  }

  push(connection: string, item: T): void {
    const q = this.queues.get(connection);
    if (q) q.push(item);
    else this.queues.set(connection, [item]);
  }

  /** Takes a waiter out (it went away); whether it was there. */
  remove(connection: string, item: T): boolean {
    const q = this.queues.get(connection);
    const i = q?.indexOf(item) ?? -1;
    if (q === undefined || i < 0) return false;
    q.splice(i, 1);
    if (q.length === 0) this.queues.delete(connection);
    return true;
  }

  /** Every waiter, with its connection, in turn order (a copy: removing while iterating is safe). */
  all(): { connection: string; item: T }[] {
    return [...this.queues].flatMap(([connection, q]) => q.map((item) => ({ connection, item })));
  }

  /** The waiter whose turn it is (undefined: nobody waits); its connection goes to the back. */
  next(): T | undefined {
    const first = this.queues.entries().next();
    if (first.done) return undefined;
    const [connection, q] = first.value;
    const item = q.shift();
    this.queues.delete(connection);
    if (q.length > 0) this.queues.set(connection, q);
    return item;
  }
}
