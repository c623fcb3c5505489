import type { ConnectionStore, LeaseResult } from './store.js';
import type { Connection, TokenSet } from './types.js';
import type { ConnectionWebhooks, ConnectionWebhookStore } from './webhooks.js';

/**
 * Connections behind Promise-returning interfaces (STYLE.md §10), so a PostgreSQL implementation
 * is a second class, not a rewrite of the callers. One contract suite runs against every
 * implementation (test/store/contracts/).
 */
export interface ConnectionReads {
  get(id: string): Promise<Connection | undefined>;
  /** The live (not revoked) connection of a user to an integration. */
  find(tenant: string, user: string, integration: string): Promise<Connection | undefined>;
  list(filter?: { tenant?: string; user?: string; includeRevoked?: boolean }): Promise<Connection[]>;
}

export interface LinkInput {
  tenant: string;
  user: string;
  integration: string;
  tokens: TokenSet;
  scopes: string[];
  /** The provider's id of the account, when the integration declares how to learn it. */
  accountId?: string | undefined;
  /** The values of the integration's `apiBaseUrl` placeholders, learned by this link (none: {}). */
  apiValues?: Record<string, string> | undefined;
}

export interface ConnectionWrites {
  /**
   * Stores a freshly linked token set: re-links the live connection if there is one, else creates it.
   * A re-link to another provider account restarts the connection's pollers from the feeds' start.
   */
  link(input: LinkInput): Promise<Connection>;
  /** The decrypted token set; a damaged row is an error, never a guess. */
  tokens(c: Connection): Promise<TokenSet>;
  /** Guarded: true when this call moved an active connection to needs_reauth. */
  markNeedsReauth(id: string, reason: string): Promise<boolean>;
  /** Guarded: true when this call revoked it; the row stays, its tokens go. */
  markRevoked(id: string, reason: string): Promise<boolean>;
}

/** One refresh per connection at a time, across processes (RFC 9700 §4.14: rotation with reuse detection). */
export interface RefreshLeases {
  tryLease(id: string, seenVersion: number, owner: string, leaseMs: number, ownerIsDead: (owner: string) => boolean): Promise<LeaseResult>;
  commitRefresh(c: Connection, owner: string, tokens: TokenSet): Promise<boolean>;
  releaseLease(id: string, owner: string, opts?: { outcomeUnknown?: boolean }): Promise<void>;
}

export type ConnectionRepository = ConnectionReads & ConnectionWrites & RefreshLeases & ConnectionWebhooks;

/**
 * The SQLite store behind the interface: better-sqlite3 answers synchronously; callers await anyway.
 * The store seals token sets inside its transactions, where nothing can be awaited, so the
 * tenant's data key is ensured first; a token set sealed under a data key another process created
 * is read after the vault has loaded it.
 */
export function sqliteConnections(store: ConnectionStore, hooks: ConnectionWebhookStore = store.webhooks): ConnectionRepository {
  const { vault } = store;
  return {
    get: async (id) => store.get(id),
    find: async (tenant, user, integration) => store.find(tenant, user, integration),
    list: async (filter) => store.list(filter),
    link: async (input) => {
      await vault.ensureDataKey(input.tenant);
      return store.link(input);
    },
    tokens: (c) => vault.decrypting(() => store.tokens(c)),
    markNeedsReauth: async (id, reason) => store.markNeedsReauth(id, reason),
    markRevoked: async (id, reason) => store.markRevoked(id, reason),
    tryLease: async (id, v, owner, leaseMs, dead) => store.tryLease(id, v, owner, leaseMs, dead),
    commitRefresh: async (c, owner, tokens) => {
      await vault.ensureDataKey(c.tenant);
      return store.commitRefresh(c, owner, tokens);
    },
    releaseLease: async (id, owner, opts) => store.releaseLease(id, owner, opts),
    byEndpoint: async (integration, endpoint) => hooks.byEndpoint(integration, endpoint),
    byAccount: async (integration, accountId) => hooks.byAccount(integration, accountId),
    ensureEndpoint: async (id) => hooks.ensureEndpoint(id),
    setWebhookSecret: async (id, secret) => {
      const c = store.get(id);
      if (c !== undefined && secret !== null) await vault.ensureDataKey(c.tenant);
      return hooks.setWebhookSecret(id, secret);
    },
    webhookSecret: (c) => vault.decrypting(() => hooks.webhookSecret(c)),
  };
}
