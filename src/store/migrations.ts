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
];
