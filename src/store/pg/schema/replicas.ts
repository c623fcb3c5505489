/**
 * PostgreSQL migration 5 (SQLite migration 17): the replica registry. One row per running
 * HTTP-serving replica, written only by that replica; `heartbeat_at` is epoch milliseconds on the
 * replica's clock, and a lookup reads a row as alive while it is recent (src/replicas/registry.ts).
 */
export const REPLICAS_SQL = `
CREATE TABLE replicas (
  id            TEXT PRIMARY KEY,
  url           TEXT NOT NULL,
  started_at    BIGINT NOT NULL,
  heartbeat_at  BIGINT NOT NULL,
  -- Set by a clean stop: a lookup then reads the replica as gone at once.
  stopped_at    BIGINT
);
CREATE INDEX replicas_heartbeat ON replicas (heartbeat_at);
`;
