import type { ConnectionState } from './types.js';

/** What changed about one connection: enough to tell its owner's clients, no tokens. */
export interface ConnectionChange {
  id: string;
  tenant: string;
  user: string;
  integration: string;
  state: ConnectionState;
}

/**
 * The connections' change feed: every link, re-link, needs_reauth and revocation this process
 * makes or notices in another process on the same store is published here once. Tool lists are
 * kept fresh from it; with Redis, src/replicas/hub-events.ts carries its changes to the other
 * replicas and publishes theirs here.
 */
export class ConnectionFeed {
  private readonly listeners = new Set<(c: ConnectionChange) => void>();
  private depth = 0;

  subscribe(listener: (c: ConnectionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * True while listeners run. The tool-list changes they cause travel between replicas as the
   * connection change itself, so the HTTP face's fan-out asks this to send them only once.
   */
  get publishing(): boolean {
    return this.depth > 0;
  }

  publish(change: ConnectionChange): void {
    this.depth++;
    try {
      for (const l of this.listeners) {
        try {
          l(change);
        } catch {
          // A listener belongs to another part; one failing must not keep the others stale.
        }
      }
    } finally {
      this.depth--;
    }
  }
}
