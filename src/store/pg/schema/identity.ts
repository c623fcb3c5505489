/**
 * PostgreSQL migration 1, part one: who may call the hub and what it holds for them — the tables
 * of SQLite migrations 1, 2, 3, 5, 6, 8 and 15 as they stand after all of them. Epoch milliseconds
 * are BIGINT; sealed values keep the SQLite column's kind: a vault envelope string is TEXT, bytes
 * (a wrapped data key) are BYTEA. Index names match the SQLite ones so a plan reads the same.
 */
export const IDENTITY_SQL = `
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  user_id      TEXT NOT NULL,
  tenant_id    TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  label        TEXT,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at   BIGINT,
  -- NULL: the token does not expire.
  expires_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

CREATE TABLE vault_data_keys (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  wrapped      BYTEA NOT NULL,
  master_id    TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('active', 'retired')),
  created_at   BIGINT NOT NULL,
  rewrapped_at BIGINT
);
-- One active key per tenant: two replicas creating it at once, one wins (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX vault_data_keys_active ON vault_data_keys (tenant_id) WHERE state = 'active';

CREATE TABLE hub_secrets (
  name        TEXT PRIMARY KEY,
  value       TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);

CREATE TABLE connections (
  id                  TEXT PRIMARY KEY,
  -- SQLite orders ties on created_at by rowid; PostgreSQL has none, so insertion order is kept here.
  seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id           TEXT NOT NULL,
  user_id             TEXT NOT NULL,
  integration         TEXT NOT NULL,
  state               TEXT NOT NULL CHECK (state IN ('active', 'needs_reauth', 'revoked', 'error')),
  reason              TEXT,
  tokens              TEXT,
  token_version       INTEGER NOT NULL DEFAULT 0,
  access_expires_at   BIGINT,
  scopes              TEXT,
  refresh_owner       TEXT,
  refresh_until       BIGINT,
  refresh_started_at  BIGINT,
  refresh_failures    INTEGER NOT NULL DEFAULT 0,
  last_refresh_at     BIGINT,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL,
  account_id          TEXT,
  webhook_endpoint    TEXT,
  webhook_secret      TEXT
);
CREATE UNIQUE INDEX connections_live ON connections (tenant_id, user_id, integration) WHERE state <> 'revoked';
CREATE UNIQUE INDEX connections_webhook_endpoint ON connections (integration, webhook_endpoint) WHERE webhook_endpoint IS NOT NULL;
CREATE INDEX connections_account ON connections (integration, account_id) WHERE account_id IS NOT NULL;

CREATE TABLE oauth_flows (
  state_hash    TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  integration   TEXT NOT NULL,
  verifier      TEXT NOT NULL,
  browser_hash  TEXT NOT NULL,
  redirect_uri  TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  used_at       BIGINT
);

CREATE TABLE link_uses (
  nonce_hash    TEXT PRIMARY KEY,
  purpose       TEXT NOT NULL CHECK (purpose IN ('link', 'connect')),
  tenant_id     TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  browser_hash  TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  used_at       BIGINT
);
CREATE INDEX link_uses_expiry ON link_uses (expires_at);

CREATE TABLE connect_sessions (
  nonce_hash  TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  ended_at    BIGINT
);
CREATE INDEX connect_sessions_expiry ON connect_sessions (expires_at);

-- The hub's own authorization server: only the SHA-256 of the library's ids (token values) is
-- kept, the payload is a vault envelope.
CREATE TABLE oauth_as_records (
  model        TEXT NOT NULL,
  key          TEXT NOT NULL,
  payload      TEXT NOT NULL,
  grant_id     TEXT,
  uid_key      TEXT,
  consumed_at  BIGINT,
  expires_at   BIGINT,
  PRIMARY KEY (model, key)
);
CREATE INDEX oauth_as_records_grant ON oauth_as_records (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oauth_as_records_uid ON oauth_as_records (model, uid_key) WHERE uid_key IS NOT NULL;
CREATE INDEX oauth_as_records_expiry ON oauth_as_records (expires_at) WHERE expires_at IS NOT NULL;
`;
