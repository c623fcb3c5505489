/**
 * PostgreSQL migration 7 (SQLite migration 20): the rate-limit buckets every replica takes from
 * when there is no Redis (src/outbox/pg-buckets.ts). Field names are the Redis script's
 * (src/outbox/redis/bucket-script.ts); times are epoch milliseconds on the database server's clock.
 */
export const PACING_SQL = `
CREATE TABLE pace_buckets (
  key         TEXT PRIMARY KEY,
  tk          DOUBLE PRECISION NOT NULL,
  ts          DOUBLE PRECISION NOT NULL,
  pu          DOUBLE PRECISION NOT NULL,
  r           DOUBLE PRECISION NOT NULL,
  c           DOUBLE PRECISION NOT NULL,
  b           DOUBLE PRECISION NOT NULL,
  h           INTEGER NOT NULL,
  fs          DOUBLE PRECISION NOT NULL,
  dr          DOUBLE PRECISION NOT NULL,
  db          DOUBLE PRECISION NOT NULL,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX pace_buckets_expiry ON pace_buckets (expires_at);
`;
