import { EVENTS_MIGRATIONS } from './migrations-events.js';

/**
 * Numbered migrations. Append only: a released migration is never edited, since databases in
 * the field have recorded it as applied.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api_tokens',
    sql: `
      CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        token_hash   TEXT NOT NULL UNIQUE,
        user_id      TEXT NOT NULL,
        tenant_id    TEXT NOT NULL,
        scopes       TEXT NOT NULL,
        label        TEXT,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at   INTEGER
      );
      CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);
    `,
  },
  {
    version: 2,
    name: 'vault_data_keys',
    sql: `
      CREATE TABLE vault_data_keys (
        id          TEXT PRIMARY KEY,
        tenant_id   TEXT NOT NULL,
        wrapped     BLOB NOT NULL,
        master_id   TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('active', 'retired')),
        created_at  INTEGER NOT NULL,
        rewrapped_at INTEGER
      );
      CREATE UNIQUE INDEX vault_data_keys_active ON vault_data_keys (tenant_id) WHERE state = 'active';
    `,
  },
  {
    version: 3,
    name: 'connections_and_oauth_flows',
    sql: `
      CREATE TABLE connections (
        id                  TEXT PRIMARY KEY,
        tenant_id           TEXT NOT NULL,
        user_id             TEXT NOT NULL,
        integration         TEXT NOT NULL,
        state               TEXT NOT NULL CHECK (state IN ('active', 'needs_reauth', 'revoked', 'error')),
        reason              TEXT,
        tokens              TEXT,
        token_version       INTEGER NOT NULL DEFAULT 0,
        access_expires_at   INTEGER,
        scopes              TEXT,
        refresh_owner       TEXT,
        refresh_until       INTEGER,
        refresh_started_at  INTEGER,
        refresh_failures    INTEGER NOT NULL DEFAULT 0,
        last_refresh_at     INTEGER,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX connections_live ON connections (tenant_id, user_id, integration) WHERE state <> 'revoked';
      CREATE TABLE oauth_flows (
        state_hash    TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        integration   TEXT NOT NULL,
        verifier      TEXT NOT NULL,
        browser_hash  TEXT NOT NULL,
        redirect_uri  TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        used_at       INTEGER
      );
      CREATE TABLE hub_secrets (
        name        TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'downstream_lists',
    sql: `
      CREATE TABLE downstream_lists (
        server       TEXT NOT NULL,
        config_hash  TEXT NOT NULL,
        lists        TEXT NOT NULL,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (server, config_hash)
      );
    `,
  },
  {
    version: 5,
    name: 'link_uses_and_connect_sessions',
    sql: `
      CREATE TABLE link_uses (
        nonce_hash    TEXT PRIMARY KEY,
        purpose       TEXT NOT NULL CHECK (purpose IN ('link', 'connect')),
        tenant_id     TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        browser_hash  TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        used_at       INTEGER
      );
      CREATE INDEX link_uses_expiry ON link_uses (expires_at);
      CREATE TABLE connect_sessions (
        nonce_hash  TEXT PRIMARY KEY,
        tenant_id   TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        ended_at    INTEGER
      );
      CREATE INDEX connect_sessions_expiry ON connect_sessions (expires_at);
    `,
  },
  {
    version: 6,
    name: 'api_token_expiry',
    // NULL: the token does not expire (every token made before this migration).
    sql: `ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;`,
  },
  {
    version: 7,
    name: 'webhook_inbox',
    // Two layers of dedupe (issue 8): a provider's redelivery carries the same delivery id, kept in
    // webhook_deliveries (WITHOUT ROWID: one b-tree per retained id); the same change arriving by
    // webhook and by poll carries the same provider event id, unique per connection. Unroutable
    // events (no connection) are kept: '' stands for their connection in that unique index.
    sql: `
      CREATE TABLE webhook_deliveries (
        integration  TEXT NOT NULL,
        endpoint     TEXT NOT NULL,
        delivery_id  TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        received_at  INTEGER NOT NULL,
        PRIMARY KEY (integration, endpoint, delivery_id)
      ) WITHOUT ROWID;
      CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
      CREATE TABLE inbox_events (
        id                 TEXT PRIMARY KEY,
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
      CREATE UNIQUE INDEX inbox_events_provider_id ON inbox_events (integration, ifnull(connection_id, ''), provider_event_id)
        WHERE provider_event_id IS NOT NULL;
      CREATE INDEX inbox_events_due ON inbox_events (next_attempt_at) WHERE state IN ('pending', 'failed');
      CREATE INDEX inbox_events_leased ON inbox_events (lease_until) WHERE state = 'processing';
      CREATE INDEX inbox_events_received ON inbox_events (received_at);
      CREATE INDEX inbox_events_owner ON inbox_events (tenant_id, user_id, received_at);
    `,
  },
  {
    version: 8,
    name: 'connection_webhooks',
    // Webhook routing (issue 8): the provider's id for the linked account (accountFrom finds the
    // connection by it), a per-connection endpoint id (unguessable, unique per integration) and the
    // connection's own webhook secret, sealed by the vault like its tokens.
    sql: `
      ALTER TABLE connections ADD COLUMN account_id TEXT;
      ALTER TABLE connections ADD COLUMN webhook_endpoint TEXT;
      ALTER TABLE connections ADD COLUMN webhook_secret TEXT;
      CREATE UNIQUE INDEX connections_webhook_endpoint ON connections (integration, webhook_endpoint) WHERE webhook_endpoint IS NOT NULL;
      CREATE INDEX connections_account ON connections (integration, account_id) WHERE account_id IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'pollers',
    // One row per (connection, feed) a poller reads (issue 8). The cursor advances in the
    // transaction that stores the page's events (compare-and-set on its previous value); the
    // lease keeps two processes on one store from polling one feed at once; the rest is the
    // schedule (interval, next run, back-off counters) and why a poller is stalled.
    sql: `
      CREATE TABLE pollers (
        connection_id  TEXT NOT NULL,
        feed           TEXT NOT NULL,
        integration    TEXT NOT NULL,
        cursor         TEXT,
        interval_ms    INTEGER NOT NULL DEFAULT 0,
        next_run_at    INTEGER NOT NULL DEFAULT 0,
        empty_polls    INTEGER NOT NULL DEFAULT 0,
        failures       INTEGER NOT NULL DEFAULT 0,
        stuck_pages    INTEGER NOT NULL DEFAULT 0,
        state          TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'stalled')),
        reason         TEXT,
        paused_until   INTEGER,
        last_error     TEXT,
        last_poll_at   INTEGER,
        last_event_at  INTEGER,
        events_total   INTEGER NOT NULL DEFAULT 0,
        lease_owner    TEXT,
        lease_until    INTEGER,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (connection_id, feed)
      );
      CREATE INDEX pollers_due ON pollers (next_run_at);
    `,
  },
  {
    version: 10,
    name: 'inbox_events_feed',
    // A user's events of one integration in insertion order (recent_events and the events
    // resource): rowid rides along in the index, so `rowid > cursor` is a range scan.
    sql: `CREATE INDEX inbox_events_feed ON inbox_events (tenant_id, user_id, integration) WHERE connection_id IS NOT NULL;`,
  },
  {
    version: 11,
    name: 'inbox_events_done',
    // Events in the order they finished, read by each process to tell its clients of the ones
    // another process finished (a `serve` taking webhooks beside a `stdio` hub).
    sql: `CREATE INDEX inbox_events_done ON inbox_events (updated_at) WHERE state = 'done';`,
  },
  {
    version: 12,
    name: 'outbox_jobs',
    // Outbound writes (issue 9). A caller's idempotency key is unique per (tenant, user,
    // integration, tool); seq orders jobs of one (connection, ordering key); args are JSON, or a
    // vault envelope when the tool is sensitive (result too). The partial indexes serve the claim.
    sql: `
      CREATE TABLE outbox_jobs (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        tenant_id       TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        connection_id   TEXT NOT NULL,
        integration     TEXT NOT NULL,
        tool            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        key_from_caller INTEGER NOT NULL CHECK (key_from_caller IN (0, 1)),
        args_hash       TEXT NOT NULL,
        args            TEXT NOT NULL,
        sensitive       INTEGER NOT NULL CHECK (sensitive IN (0, 1)),
        replay_safe     INTEGER NOT NULL CHECK (replay_safe IN (0, 1)),
        ordering_key    TEXT,
        state           TEXT NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'sending', 'done', 'failed', 'dead', 'sent_unconfirmed', 'cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_owner     TEXT,
        lease_until     INTEGER,
        result          TEXT,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX outbox_jobs_key ON outbox_jobs (tenant_id, user_id, integration, tool, idempotency_key);
      CREATE INDEX outbox_jobs_due ON outbox_jobs (next_attempt_at) WHERE state = 'queued';
      CREATE INDEX outbox_jobs_leased ON outbox_jobs (lease_until) WHERE lease_until IS NOT NULL;
      CREATE INDEX outbox_jobs_order ON outbox_jobs (connection_id, ordering_key, seq)
        WHERE ordering_key IS NOT NULL AND state IN ('queued', 'sending');
      CREATE INDEX outbox_jobs_state ON outbox_jobs (state, updated_at);
    `,
  },
  {
    version: 13,
    name: 'agent_tasks',
    // Async agent tasks (issue 10): the id is the unguessable one in the callback URL; the result
    // is a vault envelope under the owner's tenant; expires_at is when an unanswered task is
    // timed_out. The owner index serves agent__task_status, the state index listing and purges.
    sql: `
      CREATE TABLE agent_tasks (
        id              TEXT PRIMARY KEY,
        tenant_id       TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        agent           TEXT NOT NULL,
        answered_by     TEXT,
        remote_task_id  TEXT,
        state           TEXT NOT NULL DEFAULT 'submitted'
                        CHECK (state IN ('submitted', 'running', 'completed', 'failed', 'cancelled', 'timed_out')),
        result          TEXT,
        error           TEXT,
        owner_process   TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL
      );
      CREATE INDEX agent_tasks_owner ON agent_tasks (tenant_id, user_id, created_at);
      CREATE INDEX agent_tasks_state ON agent_tasks (state, updated_at);
    `,
  },
  {
    version: 14,
    name: 'mcp_tasks',
    // MCP Tasks (issue 11): a hub task id maps to its owner and its backing (an agent task, an
    // outbox job, a downstream server's task, or `local`: a tool the hub runs itself, whose state
    // and result live in this row). Reads filter on owner and expiry; the owner index serves
    // tasks/list (2025-11-25), the expiry index the purge.
    sql: `
      CREATE TABLE mcp_tasks (
        id              TEXT PRIMARY KEY,
        tenant_id       TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        backing_kind    TEXT NOT NULL CHECK (backing_kind IN ('local', 'agent_task', 'outbox_job', 'downstream')),
        backing_id      TEXT NOT NULL,
        tool            TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('working', 'input_required', 'completed', 'failed', 'cancelled')),
        status_message  TEXT,
        result          TEXT,
        error           TEXT,
        input_requests  TEXT,
        ttl_ms          INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );
      CREATE INDEX mcp_tasks_owner ON mcp_tasks (tenant_id, user_id, created_at, id);
      CREATE INDEX mcp_tasks_expiry ON mcp_tasks (expires_at);
      CREATE INDEX mcp_tasks_backing ON mcp_tasks (backing_kind, backing_id);
    `,
  },
  {
    version: 15,
    name: 'oauth_as_records',
    // The hub's own authorization server (issue 12): what oidc-provider stores (clients, grants,
    // sessions, interactions, codes, tokens), one row per (model, id). The library's ids are
    // token values, so only their SHA-256 is kept, and the payload is a vault envelope.
    // `expires_at` is on the hub's clock; a registered client's is pushed forward while it is used.
    sql: `
      CREATE TABLE oauth_as_records (
        model        TEXT NOT NULL,
        key          TEXT NOT NULL,
        payload      TEXT NOT NULL,
        grant_id     TEXT,
        uid_key      TEXT,
        consumed_at  INTEGER,
        expires_at   INTEGER,
        PRIMARY KEY (model, key)
      );
      CREATE INDEX oauth_as_records_grant ON oauth_as_records (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oauth_as_records_uid ON oauth_as_records (model, uid_key) WHERE uid_key IS NOT NULL;
      CREATE INDEX oauth_as_records_expiry ON oauth_as_records (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 16,
    name: 'outbox_paced_sends',
    // Sends of a job the provider answered 429: they spend no attempt (STYLE.md §7), and counted
    // here, not in a worker's memory, that holds across a restart and on another process.
    sql: `
      ALTER TABLE outbox_jobs ADD COLUMN paced INTEGER NOT NULL DEFAULT 0 CHECK (paced >= 0);
    `,
  },
  {
    version: 17,
    name: 'replicas',
    // Issue 13: the HTTP-serving processes on this store and where each is reached, so a retry
    // that needs another process's memory (a held call) is sent there. One row per process, written
    // by that process only; `heartbeat_at` on its clock; `stopped_at` set by a clean stop, so a
    // retry naming it is told the process stopped (src/replicas/registry.ts).
    sql: `
      CREATE TABLE replicas (
        id            TEXT PRIMARY KEY,
        url           TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        heartbeat_at  INTEGER NOT NULL,
        stopped_at    INTEGER
      );
      CREATE INDEX replicas_heartbeat ON replicas (heartbeat_at);
    `,
  },
  // 18 and on: the inbox, pollers and shared pacing buckets (and 23, the replicas' held names), in migrations-events.ts.
  ...EVENTS_MIGRATIONS,
];
