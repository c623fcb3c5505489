import { SqliteAgentTasks } from '../agents/tasks/sqlite.js';
import type { AgentTaskStore } from '../agents/tasks/types.js';
import type { AgentsStore } from '../agents/wire.js';
import type { AuthStore } from '../auth/server.js';
import { SqliteAsRecords, type AsRecords } from '../auth/records.js';
import type { Clock } from '../clock.js';
import { sqliteConnections, type ConnectionRepository } from '../connections/repository.js';
import { ConnectionStore } from '../connections/store.js';
import { HubError } from '../errors.js';
import { SqliteApiTokens, type ApiTokens } from '../identity/tokens.js';
import type { IntegrationsStore } from '../integrations/wiring.js';
import { SqliteTasks } from '../mcp/tasks/sqlite.js';
import type { McpStore } from '../mcp/wire.js';
import type { TaskRepository } from '../mcp/tasks/types.js';
import { SqliteFlows, type FlowRepository } from '../oauth/flow-store.js';
import { SqliteLinkUses, type ConnectSessions, type LinkUses } from '../oauth/link-uses.js';
import type { Logger } from '../observability/logger.js';
import type { SharedBuckets } from '../outbox/pacing/shared.js';
import { SqliteBuckets } from '../outbox/sqlite-buckets.js';
import { SqliteOutbox } from '../outbox/sqlite.js';
import type { Outbox } from '../outbox/types.js';
import { SqlitePollerStore, type PollerStore } from '../polling/store.js';
import type { PollersStore } from '../polling/wire.js';
import { SqliteDataKeys, type DataKeyStore } from '../vault/data-keys.js';
import type { Vault } from '../vault/vault.js';
import { SqliteEventReads, type EventReads } from '../webhooks/inbox/reads.js';
import type { InboxOpener, InboxOpening } from '../webhooks/inbox/service.js';
import { SqliteInbox } from '../webhooks/inbox/sqlite.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { migrate, openDb, type AppliedMigration, type Db } from './db.js';
import type { HeldNamesStore } from './held-names.js';
import { HubSecrets, type SecretStore } from './hub-secrets.js';
import { SqliteListCache, type ListCache } from './list-cache.js';

/**
 * The checkpoint thread starts this long after the store opens: its start (~70 ms of CPU here, a
 * Node environment of its own) competed with the first answer a stdio client waits for, on a
 * machine of two cores. A starting hub writes little, and the fallback bounds the WAL meanwhile.
 */
const CHECKPOINT_THREAD_DELAY_MS = 2_000;

/** Whether the store answered a query, or why not (never its URL or password): for /readyz and `doctor` to report. */
export type StoreHealth = { ok: true; kind: StoreKind } | { ok: false; kind: StoreKind; error: string };

export type StoreKind = 'sqlite' | 'postgres';

/**
 * Every repository the hub and its builders use, on one engine: whoever opens it picks SQLite or
 * PostgreSQL, and nothing built on it knows which. Each builder names the part it needs
 * (IntegrationsStore, AgentsStore, AuthStore, PollersStore, McpStore, InboxOpener): a builder sits below the
 * hub and cannot import this file, so those are declared where they are used and gathered here,
 * where a second engine must provide them all.
 *
 * An opened store is migrated. `vault` was built on `dataKeys` by the opener, and the
 * repositories that seal (connections, secrets, agent tasks, the outbox's results) use it.
 */
export interface HubStore extends IntegrationsStore, AgentsStore, AuthStore, PollersStore, McpStore, InboxOpener {
  readonly kind: StoreKind;
  readonly dataKeys: DataKeyStore;
  readonly vault: Vault;
  readonly apiTokens: ApiTokens;
  readonly outbox: Outbox;
  readonly eventReads: EventReads;
  /** The tool names replicas hand out (PostgreSQL); absent on SQLite, where one process holds them in memory. */
  readonly heldNames?: HeldNamesStore;
  /** One cheap query: whether the store answers now. Never throws. */
  health(): Promise<StoreHealth>;
  /** Commits what is queued and closes the connections; the hub's `store` part stops with it. */
  close(): Promise<void>;
}

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' (tests, the in-memory hub). */
  file: string;
  clock: Clock;
  log: Logger;
  /** Builds the vault on the store's data keys: the data dir's master keys, or an ephemeral ring in memory. */
  vault: (keys: DataKeyStore) => Vault;
  /** Apply pending migrations while opening (default). The hub migrates as a part of its own, after `store`. */
  migrate?: boolean;
  /**
   * WAL checkpoints on a thread of their own while the store is open (default on for a file).
   * Deliveries are acknowledged on commit, and a checkpoint inside one holds every request up;
   * a command that opens the store for a moment has nothing to gain from the thread.
   */
  checkpoints?: boolean;
}

/** The SQLite store: what only SQLite has (the connection, its migrations) beside the repositories. */
export interface SqliteHubStore extends HubStore {
  readonly kind: 'sqlite';
  /** The one connection every repository shares (its group commits and checkpoints need one file, one writer). */
  readonly db: Db;
  migrate(): AppliedMigration[];
}

/** Opens (and by default migrates) a SQLite store and builds every repository on its one connection. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteHubStore {
  const db = openDb({ file: opts.file, clock: opts.clock, ...(opts.migrate === false ? { migrations: [] } : {}) });
  try {
    return new SqliteStore(db, opts);
  } catch (err) {
    db.close();
    throw err;
  }
}

type Lazy =
  | 'apiTokens'
  | 'secrets'
  | 'connections'
  | 'flows'
  | 'linkUses'
  | 'asRecords'
  | 'outbox'
  | 'agentTasks'
  | 'tasks'
  | 'pollers'
  | 'listCache'
  | 'eventReads'
  | 'paceBuckets';

/** Repositories are built on first use: a command that reads one table prepares no other's statements. */
class SqliteStore implements SqliteHubStore {
  readonly kind = 'sqlite';
  readonly dataKeys: DataKeyStore;
  readonly vault: Vault;
  private readonly clock: Clock;
  private readonly ping: () => unknown;
  private readonly inboxes: SqliteInbox[] = [];
  private readonly checkpointer: Checkpointer | undefined;
  private readonly shared: boolean;
  private closing: Promise<void> | undefined;
  private readonly r: { -readonly [K in Lazy]?: HubStore[K] } = {};

  constructor(
    readonly db: Db,
    opts: SqliteStoreOptions,
  ) {
    this.clock = opts.clock;
    this.dataKeys = new SqliteDataKeys(db);
    this.vault = opts.vault(this.dataKeys);
    const ping = db.prepare('SELECT 1');
    this.ping = () => ping.get();
    // In memory the store has one process: there is no one to share the buckets with.
    this.shared = opts.file !== ':memory:';
    if (opts.file !== ':memory:' && opts.checkpoints !== false)
      this.checkpointer = startCheckpointer(db, opts.file, opts.log, undefined, undefined, CHECKPOINT_THREAD_DELAY_MS);
  }

  private lazy<K extends Lazy>(name: K, make: () => HubStore[K]): HubStore[K] {
    const built = this.r[name];
    if (built !== undefined) return built;
    const made = make();
    this.r[name] = made;
    return made;
  }

  get apiTokens(): ApiTokens {
    return this.lazy('apiTokens', () => new SqliteApiTokens(this.db, this.clock));
  }
  get secrets(): SecretStore {
    return this.lazy('secrets', () => new HubSecrets(this.db, this.vault, this.clock));
  }
  get connections(): ConnectionRepository {
    return this.lazy('connections', () => sqliteConnections(new ConnectionStore(this.db, this.vault, this.clock)));
  }
  get flows(): FlowRepository {
    return this.lazy('flows', () => new SqliteFlows(this.db));
  }
  get linkUses(): LinkUses & ConnectSessions {
    return this.lazy('linkUses', () => new SqliteLinkUses(this.db, this.clock));
  }
  get asRecords(): AsRecords {
    return this.lazy('asRecords', () => new SqliteAsRecords(this.db));
  }
  get outbox(): Outbox {
    return this.lazy('outbox', () => new SqliteOutbox(this.db, this.clock, this.vault));
  }
  get agentTasks(): AgentTaskStore {
    return this.lazy('agentTasks', () => new SqliteAgentTasks(this.db, this.vault, this.clock));
  }
  get tasks(): TaskRepository {
    return this.lazy('tasks', () => new SqliteTasks(this.db));
  }
  get pollers(): PollerStore {
    return this.lazy('pollers', () => new SqlitePollerStore(this.db, this.clock));
  }
  get listCache(): ListCache {
    return this.lazy('listCache', () => new SqliteListCache(this.db, this.clock));
  }
  get eventReads(): EventReads {
    return this.lazy('eventReads', () => new SqliteEventReads(this.db));
  }
  get paceBuckets(): SharedBuckets | undefined {
    return this.shared ? this.lazy('paceBuckets', () => new SqliteBuckets(this.db, this.clock)) : undefined;
  }

  openInbox(o: InboxOpening = {}): SqliteInbox {
    const inbox = new SqliteInbox(this.db, this.clock, {
      ...(o.onStored ? { onStored: o.onStored } : {}),
      ...(o.groupCommit === undefined ? {} : { groupCommit: o.groupCommit }),
    });
    this.inboxes.push(inbox);
    return inbox;
  }

  migrate(): AppliedMigration[] {
    return migrate(this.db, this.clock);
  }

  async health(): Promise<StoreHealth> {
    try {
      this.ping();
      return { ok: true, kind: this.kind };
    } catch (err) {
      return { ok: false, kind: this.kind, error: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shut();
    return this.closing;
  }

  private async shut(): Promise<void> {
    // Accepts queued for a group commit were promised a durable row: committed before the file closes.
    for (const inbox of this.inboxes) inbox.flush();
    const cp = this.checkpointer;
    // Without a thread to stop, the file closes now (a failed start that stops synchronously finds it closed).
    if (cp !== undefined) await cp.stop();
    if (this.db.open) this.db.close();
  }
}

export function isSqlite(store: HubStore): store is SqliteHubStore {
  return store.kind === 'sqlite' && 'db' in store;
}

/** The store as a SQLite one, for what only SQLite has; on another engine, a typed error. */
export function sqliteOf(store: HubStore): SqliteHubStore {
  if (isSqlite(store)) return store;
  throw new HubError('internal', `this needs the SQLite store; the hub runs on ${store.kind}`);
}
