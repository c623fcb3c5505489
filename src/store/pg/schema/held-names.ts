/**
 * PostgreSQL migration 10: the tool and prompt names handed out to each identity, which every
 * replica reads (src/store/pg/held-names.ts). One row per (kind, identity) holding its whole map as
 * JSON (`[[name, claim key], …]`); `version` is the store's version at the row's last put. The
 * one row of `held_names_version` (made by the first put; none reads as 0) is that version: every
 * put takes its row lock first, so puts commit in version order. SQLite has no such table: a single process holds its names in memory.
 */
export const HELD_NAMES_SQL = `
CREATE TABLE held_names (
  kind      TEXT NOT NULL CHECK (kind IN ('tool', 'prompt')),
  identity  TEXT NOT NULL,
  version   BIGINT NOT NULL,
  names     TEXT NOT NULL,
  PRIMARY KEY (kind, identity)
);
CREATE INDEX held_names_kind_version ON held_names (kind, version);
CREATE TABLE held_names_version (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  BIGINT NOT NULL
);
`;
