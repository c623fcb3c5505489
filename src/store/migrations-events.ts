import type { Migration } from './migrations.js';

/** SQLite migration 24 and PostgreSQL's 11: the same statement, valid in both. */
export const APP_QUEUES_SQL = `UPDATE outbox_jobs SET connection_id = 'app:' || tenant_id || '/' || user_id
      WHERE connection_id = 'app' AND state IN ('queued', 'sending');`;

/** SQLite migration 25 and PostgreSQL's 12: the same statement, valid in both. */
export const API_VALUES_SQL = 'ALTER TABLE connections ADD COLUMN api_values TEXT;';

/** SQLite migration 26 and PostgreSQL's 13: the same statement, valid in both. */
export const OUTBOX_SITE_SQL = 'ALTER TABLE outbox_jobs ADD COLUMN site_digest TEXT;';

/**
 * SQLite migration 18: inbox_events gets a
 * `seq INTEGER PRIMARY KEY AUTOINCREMENT`. recent_events cursors are the row's insertion order; a
 * plain rowid is max(rowid)+1, so once the retention purge deleted the newest rows the next events
 * took their numbers again and a client's cursor skipped them. AUTOINCREMENT never hands a number
 * out twice. seq is each kept row's old rowid (and is the rowid from now on), so a cursor issued
 * before this migration still means the same. PostgreSQL's `seq` is an identity column already.
 */
const INBOX_EVENTS_SEQ_SQL = `
      CREATE TABLE inbox_events_next (
        seq                INTEGER PRIMARY KEY AUTOINCREMENT,
        id                 TEXT NOT NULL UNIQUE,
        tenant_id          TEXT,
        user_id            TEXT,
        connection_id      TEXT,
        integration        TEXT NOT NULL,
        endpoint           TEXT NOT NULL,
        type               TEXT NOT NULL,
        provider_event_id  TEXT,
        source             TEXT NOT NULL CHECK (source IN ('webhook', 'poll')),
        received_at        INTEGER NOT NULL,
        payload            BLOB NOT NULL,
        state              TEXT NOT NULL CHECK (state IN ('pending', 'processing', 'done', 'failed', 'dead')),
        attempts           INTEGER NOT NULL DEFAULT 0,
        next_attempt_at    INTEGER NOT NULL,
        lease_owner        TEXT,
        lease_until        INTEGER,
        last_error         TEXT,
        updated_at         INTEGER NOT NULL
      );
      INSERT INTO inbox_events_next (seq, id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id,
        source, received_at, payload, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at)
        SELECT rowid, id, tenant_id, user_id, connection_id, integration, endpoint, type, provider_event_id,
          source, received_at, payload, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at
        FROM inbox_events ORDER BY rowid;
      DROP TABLE inbox_events;
      ALTER TABLE inbox_events_next RENAME TO inbox_events;
      CREATE UNIQUE INDEX inbox_events_provider_id ON inbox_events (integration, ifnull(connection_id, ''), provider_event_id)
        WHERE provider_event_id IS NOT NULL;
      CREATE INDEX inbox_events_due ON inbox_events (next_attempt_at) WHERE state IN ('pending', 'failed');
      CREATE INDEX inbox_events_leased ON inbox_events (lease_until) WHERE state = 'processing';
      CREATE INDEX inbox_events_received ON inbox_events (received_at);
      CREATE INDEX inbox_events_owner ON inbox_events (tenant_id, user_id, received_at);
      CREATE INDEX inbox_events_feed ON inbox_events (tenant_id, user_id, integration) WHERE connection_id IS NOT NULL;
      CREATE INDEX inbox_events_done ON inbox_events (updated_at) WHERE state = 'done';
`;

/** SQLite migrations from 18 on: the inbox, pollers and later (their own file, so migrations.ts stays readable). Append only. */
export const EVENTS_MIGRATIONS: readonly Migration[] = [
  { version: 18, name: 'inbox_events_seq', sql: INBOX_EVENTS_SEQ_SQL },
  {
    version: 19,
    name: 'poller_cursor_at',
    // When a poller's cursor took its present value. An inclusive cursor (a timestamp) re-reads
    // the items stored since then on every run, and only the provider event id dedupes them: the
    // purge keeps those events however old, or each would come back as a new event once purged.
    // NULL (pollers older than this): not known, so the purge keeps all of that poller's events
    // until its cursor next moves.
    sql: 'ALTER TABLE pollers ADD COLUMN cursor_at INTEGER;',
  },
  {
    version: 20,
    name: 'pace_buckets',
    // Token buckets every process on this data dir takes from (src/outbox/sqlite-buckets.ts), so a
    // `stdio` and a `serve` together keep to an API's declared rate. Field names are the Redis
    // script's (src/outbox/redis/bucket-script.ts); times are epoch ms.
    sql: `
      CREATE TABLE pace_buckets (
        key         TEXT PRIMARY KEY,
        tk          REAL NOT NULL,
        ts          REAL NOT NULL,
        pu          REAL NOT NULL,
        r           REAL NOT NULL,
        c           REAL NOT NULL,
        b           REAL NOT NULL,
        h           INTEGER NOT NULL,
        fs          REAL NOT NULL,
        dr          REAL NOT NULL,
        db          REAL NOT NULL,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX pace_buckets_expiry ON pace_buckets (expires_at);
    `,
  },
  {
    version: 21,
    name: 'outbox_error_code',
    // The hub's error code of a write that failed before the provider answered (a refused redirect,
    // credentials refused again after a refresh), so its caller gets that code, not a generic one.
    sql: 'ALTER TABLE outbox_jobs ADD COLUMN last_error_code TEXT;',
  },
  {
    version: 22,
    name: 'agent_task_failures',
    // The agents of an async call's chain that gave no answer while it was submitted (sealed JSON),
    // so the task's result names them and why as the direct call's would: a fallback's result says
    // why it answered, a failure names each agent (src/agents/tasks/sqlite.ts).
    sql: 'ALTER TABLE agent_tasks ADD COLUMN failures TEXT;',
  },
  {
    version: 23,
    name: 'held_names',
    // PostgreSQL migration 10's tables, so both stores have one schema. A single process holds its
    // tool names in memory (src/mcp/held-names.ts) and leaves them empty: only replicas share them.
    sql: `
      CREATE TABLE held_names (
        kind      TEXT NOT NULL CHECK (kind IN ('tool', 'prompt')),
        identity  TEXT NOT NULL,
        version   INTEGER NOT NULL,
        names     TEXT NOT NULL,
        PRIMARY KEY (kind, identity)
      ) WITHOUT ROWID;
      CREATE TABLE held_names_version (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        version  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 24,
    name: 'outbox_app_queues',
    // Writes made with an integration's key from config went in one queue, `app`, for every user;
    // each user's now has its own (appQueueOf in src/integrations/outbound.ts). Unfinished jobs
    // move to theirs, so a user's ordered writes queued before the upgrade still go first.
    sql: APP_QUEUES_SQL,
  },
  {
    version: 25,
    name: 'connection_api_values',
    // What fills the placeholders of an integration's apiBaseUrl for one connection (Jira's cloud
    // id, Salesforce's instance URL), learned at link time, as JSON; NULL for none.
    sql: API_VALUES_SQL,
  },
  {
    version: 26,
    name: 'outbox_site_digest',
    // Which site a queued write's connection was on (a digest of its API values, src/outbox/site.ts),
    // so that a relink to another site before it is sent sends it nowhere. NULL for none: the jobs
    // queued before this migration are sent to their connection's base as it is, as they were.
    sql: OUTBOX_SITE_SQL,
  },
];
