import { PgAgentTasks } from '../agents/tasks/pg.js';
import { PgAsRecords } from '../auth/pg.js';
import type { Clock } from '../clock.js';
import { PgConnections } from '../connections/pg.js';
import { PgApiTokens } from '../identity/pg.js';
import { PgTasks } from '../mcp/tasks/pg.js';
import { PgFlows, PgLinkUses } from '../oauth/pg.js';
import type { Logger } from '../observability/logger.js';
import { PgOutbox } from '../outbox/pg.js';
import { PgPollerStore } from '../polling/pg.js';
import { PgBuckets } from '../outbox/pg-buckets.js';
import type { DataKeyStore } from '../vault/data-keys.js';
import { PgDataKeys } from '../vault/pg-data-keys.js';
import type { Vault } from '../vault/vault.js';
import type { InboxOpening } from '../webhooks/inbox/service.js';
import { PgInbox } from '../webhooks/inbox/pg.js';
import { PgEventReads } from '../webhooks/inbox/pg-reads.js';
import type { HubStore, StoreHealth } from './bundle.js';
import type { AppliedMigration } from './db.js';
import { PgHubSecrets } from './pg-hub-secrets.js';
import { PgHeldNames } from './pg/held-names.js';
import { PgListCache } from './pg/list-cache.js';
import { appliedPgMigrations, migratePg, PG_MIGRATIONS } from './pg/migrations.js';
import { openPgStore, type PgStore } from './pg/pool.js';

export interface PostgresStoreOptions {
  /** `store.url` or DATABASE_URL; never logged as given (`safeUrl` replaces the password). */
  url: string;
  clock: Clock;
  log: Logger;
  /** Builds the vault on the store's data keys (`hubVault`): every replica reads the same master keys. */
  vault: (keys: DataKeyStore) => Vault;
  /** Apply pending migrations while opening (default), one replica at a time under the advisory lock. */
  migrate?: boolean;
  /** Connections in the pool (pg's default 10); a command needs one or two. */
  max?: number;
  /** How long health() waits for `SELECT 1` before calling the store unreachable. */
  healthTimeoutMs?: number;
}

export interface MigrationStatus {
  applied: number;
  pending: number[];
}

/** The PostgreSQL store: the pool and its migrations beside the repositories. */
export interface PostgresHubStore extends HubStore {
  readonly kind: 'postgres';
  readonly pg: PgStore;
  migrate(): Promise<AppliedMigration[]>;
  /** Which of this build's migrations the database has, and which it lacks (for `doctor`). */
  migrations(): Promise<MigrationStatus>;
}

/**
 * Every accept is its own transaction on PostgreSQL (src/webhooks/inbox/pg.ts), so nothing waits
 * for a group commit and a flush has nothing to do.
 */
class PgServiceInbox extends PgInbox {
  flush(): void {}
}

const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

/**
 * Opens a pool on `url`, applies pending migrations (unless `migrate: false`) and builds every
 * repository on it. Connecting is tried at once, so a wrong host or password fails start-up here
 * with the password scrubbed from the message.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresHubStore> {
  const pg = openPgStore({
    url: opts.url,
    ...(opts.max === undefined ? {} : { max: opts.max }),
    // A restart or a cut connection while idle: the pool drops the client and the next query reconnects.
    onIdleError: (err) => opts.log.warn({ database: pg.safeUrl, err: err.message }, 'an idle database connection failed'),
  });
  try {
    if (opts.migrate === false) await pg.query('SELECT 1');
    else await migratePg(pg, opts.clock);
    return new PostgresStore(pg, opts);
  } catch (err) {
    await pg.close().catch(() => {});
    throw err;
  }
}

class PostgresStore implements PostgresHubStore {
  readonly kind = 'postgres';
  readonly dataKeys: DataKeyStore;
  readonly vault: Vault;
  readonly apiTokens: PgApiTokens;
  readonly secrets: PgHubSecrets;
  readonly connections: PgConnections;
  readonly flows: PgFlows;
  readonly linkUses: PgLinkUses;
  readonly asRecords: PgAsRecords;
  readonly outbox: PgOutbox;
  readonly agentTasks: PgAgentTasks;
  readonly tasks: PgTasks;
  readonly pollers: PgPollerStore;
  readonly listCache: PgListCache;
  readonly eventReads: PgEventReads;
  readonly paceBuckets: PgBuckets;
  readonly heldNames: PgHeldNames;
  private readonly clock: Clock;
  private readonly healthTimeoutMs: number;
  private closing: Promise<void> | undefined;

  constructor(
    readonly pg: PgStore,
    opts: PostgresStoreOptions,
  ) {
    const { clock } = opts;
    this.clock = clock;
    this.healthTimeoutMs = opts.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    this.dataKeys = new PgDataKeys(pg);
    this.vault = opts.vault(this.dataKeys);
    this.apiTokens = new PgApiTokens(pg, clock);
    this.secrets = new PgHubSecrets(pg, this.vault, clock);
    this.connections = new PgConnections(pg, this.vault, clock);
    this.flows = new PgFlows(pg);
    this.linkUses = new PgLinkUses(pg, clock);
    this.asRecords = new PgAsRecords(pg);
    this.outbox = new PgOutbox(pg, clock, this.vault);
    this.agentTasks = new PgAgentTasks(pg, this.vault, clock);
    this.tasks = new PgTasks(pg);
    this.pollers = new PgPollerStore(pg, clock);
    this.listCache = new PgListCache(pg, clock);
    this.eventReads = new PgEventReads(pg);
    this.paceBuckets = new PgBuckets(pg);
    this.heldNames = new PgHeldNames(pg);
  }

  openInbox(o: InboxOpening = {}): PgServiceInbox {
    return new PgServiceInbox(this.pg, this.clock, o.onStored ? { onStored: o.onStored } : {});
  }

  migrate(): Promise<AppliedMigration[]> {
    return migratePg(this.pg, this.clock);
  }

  async migrations(): Promise<MigrationStatus> {
    const table = await this.pg.maybeOne("SELECT to_regclass('schema_migrations') IS NOT NULL AS present", [], (r) => r.present === true);
    const applied = new Set(table ? (await appliedPgMigrations(this.pg)).map((m) => m.version) : []);
    return { applied: applied.size, pending: PG_MIGRATIONS.map((m) => m.version).filter((v) => !applied.has(v)) };
  }

  /**
   * `SELECT 1` on a pooled connection. A server that does not answer (a partition, a full
   * connection limit) would leave the query waiting without a bound: the timer answers first, so
   * /readyz says "unreachable" within `healthTimeoutMs`.
   */
  async health(): Promise<StoreHealth> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.healthTimeoutMs} ms`)), this.healthTimeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([this.pg.query('SELECT 1'), late]);
      return { ok: true, kind: this.kind };
    } catch (err) {
      return { ok: false, kind: this.kind, error: this.pg.scrub(err instanceof Error ? err.message : String(err)) };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pg.close();
    return this.closing;
  }
}

export function isPostgres(store: HubStore): store is PostgresHubStore {
  return store.kind === 'postgres' && 'pg' in store;
}
