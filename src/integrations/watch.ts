import type { Db } from '../store/db.js';
import type { Accounts } from './accounts.js';

/**
 * Notices connections linked, revoked or moved to needs_reauth by another process on the same data
 * dir (a `serve` taking the OAuth callback for a stdio hub, `switchboard connections revoke`), so
 * this process's clients get list_changed too. A cheap indexed read every few seconds; refreshes do
 * not count, since they change no tool list.
 */
export function watchConnections(db: Db, accounts: Accounts, everyMs = 2000): () => void {
  const read = db.prepare('SELECT id, state FROM connections');
  const snapshot = () => new Map((read.all() as Array<{ id: string; state: string }>).map((r) => [r.id, r.state]));
  let seen = snapshot();
  const timer = setInterval(() => {
    let now: Map<string, string>;
    try {
      now = snapshot();
    } catch {
      return; // busy or closing: look again next time
    }
    for (const [id, state] of now) {
      // Changes this process made were announced when it made them.
      if (seen.get(id) === state || accounts.announcedState(id) === state) continue;
      const c = accounts.connections.get(id);
      if (c) accounts.changed(c);
    }
    seen = now;
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
