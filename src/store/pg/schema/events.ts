/**
 * PostgreSQL migration 1, part two: what comes in — webhook deliveries, the inbox, pollers
 * (SQLite migrations 7, 9, 10 and 11) — and the downstream list cache (SQLite migration 4).
 */
export const EVENTS_SQL = `
-- A provider's redelivery carries the same delivery id: this primary key is the webhook dedupe,
-- so two replicas taking one delivery at once insert one row (ON CONFLICT DO NOTHING).
CREATE TABLE webhook_deliveries (
  integration  TEXT NOT NULL,
  endpoint     TEXT NOT NULL,
  delivery_id  TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  received_at  BIGINT NOT NULL,
  PRIMARY KEY (integration, endpoint, delivery_id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

CREATE TABLE inbox_events (
  id                 TEXT PRIMARY KEY,
  -- SQLite's cursors are its rowid. A sequence value is taken at INSERT, not at COMMIT, so a
  -- reader paging by "seq > cursor" can pass a row a slower transaction commits later: the
  -- repository reading by seq must allow for that (read below the oldest running writer).
  seq                BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id          TEXT,
  user_id            TEXT,
  connection_id      TEXT,
  integration        TEXT NOT NULL,
  endpoint           TEXT NOT NULL,
  type               TEXT NOT NULL,
  provider_event_id  TEXT,
  source             TEXT NOT NULL CHECK (source IN ('webhook', 'poll')),
  received_at        BIGINT NOT NULL,
  payload            BYTEA NOT NULL,
  state              TEXT NOT NULL CHECK (state IN ('pending', 'processing', 'done', 'failed', 'dead')),
  attempts           INTEGER NOT NULL DEFAULT 0,
  next_attempt_at    BIGINT NOT NULL,
  lease_owner        TEXT,
  lease_until        BIGINT,
  last_error         TEXT,
  updated_at         BIGINT NOT NULL
);
-- The same change by webhook and by poll carries one provider event id, unique per connection;
-- '' stands for the connection of an unroutable event. ON CONFLICT must name this expression.
CREATE UNIQUE INDEX inbox_events_provider_id ON inbox_events (integration, COALESCE(connection_id, ''), provider_event_id)
  WHERE provider_event_id IS NOT NULL;
CREATE INDEX inbox_events_due ON inbox_events (next_attempt_at) WHERE state IN ('pending', 'failed');
CREATE INDEX inbox_events_leased ON inbox_events (lease_until) WHERE state = 'processing';
CREATE INDEX inbox_events_received ON inbox_events (received_at);
CREATE INDEX inbox_events_owner ON inbox_events (tenant_id, user_id, received_at);
CREATE INDEX inbox_events_feed ON inbox_events (tenant_id, user_id, integration, seq) WHERE connection_id IS NOT NULL;
CREATE INDEX inbox_events_done ON inbox_events (updated_at, seq) WHERE state = 'done';

CREATE TABLE pollers (
  connection_id  TEXT NOT NULL,
  feed           TEXT NOT NULL,
  integration    TEXT NOT NULL,
  cursor         TEXT,
  interval_ms    BIGINT NOT NULL DEFAULT 0,
  next_run_at    BIGINT NOT NULL DEFAULT 0,
  empty_polls    INTEGER NOT NULL DEFAULT 0,
  failures       INTEGER NOT NULL DEFAULT 0,
  stuck_pages    INTEGER NOT NULL DEFAULT 0,
  state          TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'stalled')),
  reason         TEXT,
  paused_until   BIGINT,
  last_error     TEXT,
  last_poll_at   BIGINT,
  last_event_at  BIGINT,
  events_total   BIGINT NOT NULL DEFAULT 0,
  lease_owner    TEXT,
  lease_until    BIGINT,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL,
  PRIMARY KEY (connection_id, feed)
);
CREATE INDEX pollers_due ON pollers (next_run_at);

CREATE TABLE downstream_lists (
  server       TEXT NOT NULL,
  config_hash  TEXT NOT NULL,
  lists        TEXT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (server, config_hash)
);
`;
