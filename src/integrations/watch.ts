import type { ConnectionReads } from '../connections/repository.js';
import type { Accounts } from './accounts.js';

/**
 * Notices connections linked, revoked or moved to needs_reauth by another process on the same data
 * dir (a `serve` taking the OAuth callback for a stdio hub, `switchboard connections revoke`) and
 * publishes them on this process's feed, so its clients get list_changed too. A read every few
 * seconds; refreshes do not count, since they change no tool list.
 */
export function watchConnections(reads: ConnectionReads, accounts: Accounts, everyMs = 2000): () => void {
  let seen: Map<string, string> | undefined;
  let busy = false;
  const look = async () => {
    if (busy) return;
    busy = true;
    try {
      const all = await reads.list({ includeRevoked: true });
      const now = new Map(all.map((c) => [c.id, c.state]));
      for (const c of all) {
        // Changes this process made were announced when it made them.
        if (seen === undefined || seen.get(c.id) === c.state || accounts.announcedState(c.id) === c.state) continue;
        await accounts.changed(c);
      }
      seen = now;
    } catch {
      // busy or closing: look again next time
    } finally {
      busy = false;
    }
  };
  void look();
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
