import { identityKey, type Identity } from '../identity/identity.js';
import type { ConnectionChange, ConnectionFeed } from './feed.js';
import type { ConnectionReads } from './repository.js';
import type { ConnectionState } from './types.js';

export type ListedState = Exclude<ConnectionState, 'revoked'> | 'unlinked';

/**
 * Each identity's connection states, in memory, so listing tools reads no SQL: loaded once at
 * start, then kept fresh by the change feed. It holds states only (no tokens): one small entry per
 * live connection. Calls still read the store, which stays the authority.
 */
export class ConnectionStates {
  private readonly byIdentity = new Map<string, Map<string, ConnectionState>>();
  private readonly listeners = new Set<(c: ConnectionChange) => void>();
  private loading: Promise<void> | undefined;
  /** Entries the feed wrote while the first load was reading: newer than what it read. */
  private touched: Set<string> | undefined;

  constructor(
    private readonly reads: ConnectionReads,
    feed: ConnectionFeed,
  ) {
    feed.subscribe((c) => {
      this.apply(c);
      for (const l of this.listeners) l(c);
    });
  }

  /** Reads every live connection once; changes published meanwhile are kept (they are newer). */
  load(): Promise<void> {
    this.loading ??= (async () => {
      const touched = new Set<string>();
      this.touched = touched;
      try {
        for (const c of await this.reads.list()) {
          const key = identityKey({ tenant: c.tenant, user: c.user, scopes: [] });
          if (!touched.has(`${key}\0${c.integration}`)) this.entry(key).set(c.integration, c.state);
        }
      } finally {
        this.touched = undefined;
      }
    })();
    return this.loading;
  }

  /** Resolves when the first load is done; listing waits for it so a linked account never shows as unlinked. */
  whenLoaded(): Promise<void> {
    return this.loading ?? this.load();
  }

  stateOf(identity: Identity, integration: string): ListedState {
    const s = this.byIdentity.get(identityKey(identity))?.get(integration);
    return s === undefined || s === 'revoked' ? 'unlinked' : s;
  }

  /** Told after the cache took a change in, so a listener that lists again sees the new state. */
  onChange(listener: (c: ConnectionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private apply(c: ConnectionChange): void {
    const key = identityKey({ tenant: c.tenant, user: c.user, scopes: [] });
    this.touched?.add(`${key}\0${c.integration}`);
    if (c.state === 'revoked') {
      const m = this.byIdentity.get(key);
      m?.delete(c.integration);
      if (m?.size === 0) this.byIdentity.delete(key);
      return;
    }
    this.entry(key).set(c.integration, c.state);
  }

  private entry(key: string): Map<string, ConnectionState> {
    let m = this.byIdentity.get(key);
    if (!m) {
      m = new Map();
      this.byIdentity.set(key, m);
    }
    return m;
  }
}
