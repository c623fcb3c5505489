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
 * kept fresh from it; a Redis fan-out can publish into it for other replicas later.
 */
export class ConnectionFeed {
  private readonly listeners = new Set<(c: ConnectionChange) => void>();

  subscribe(listener: (c: ConnectionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(change: ConnectionChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener belongs to another part; one failing must not keep the others stale.
      }
    }
  }
}
