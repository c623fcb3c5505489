import Database from 'better-sqlite3';
import { restrictFiles } from '../../src/store/db.js';
import type { Clock } from '../../src/clock.js';

export type SandboxDb = Database.Database;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The provider's own schema, recorded in its own `sandbox_migrations` table so that its version
 * numbers never meet the hub's, whichever file it is given. Append only.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'oauth_and_tickets',
    sql: `
      CREATE TABLE sandbox_accounts (
        username   TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE sandbox_interactions (
        id_hash        TEXT PRIMARY KEY,
        browser_hash   TEXT NOT NULL,
        client_id      TEXT NOT NULL,
        redirect_uri   TEXT NOT NULL,
        scope          TEXT NOT NULL,
        state          TEXT,
        code_challenge TEXT NOT NULL,
        expires_at     INTEGER NOT NULL
      );
      CREATE TABLE sandbox_grants (
        id         TEXT PRIMARY KEY,
        client_id  TEXT NOT NULL,
        username   TEXT NOT NULL REFERENCES sandbox_accounts (username),
        scope      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE sandbox_codes (
        code_hash      TEXT PRIMARY KEY,
        grant_id       TEXT NOT NULL REFERENCES sandbox_grants (id),
        redirect_uri   TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        expires_at     INTEGER NOT NULL,
        used_at        INTEGER
      );
      CREATE TABLE sandbox_tokens (
        token_hash TEXT PRIMARY KEY,
        kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        grant_id   TEXT NOT NULL REFERENCES sandbox_grants (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        rotated_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX sandbox_tokens_grant ON sandbox_tokens (grant_id);
      CREATE TABLE sandbox_tickets (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        owner      TEXT NOT NULL REFERENCES sandbox_accounts (username),
        title      TEXT NOT NULL,
        body       TEXT NOT NULL,
        priority   TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        status     TEXT NOT NULL CHECK (status IN ('open', 'pending', 'closed')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX sandbox_tickets_owner ON sandbox_tickets (owner, seq);
    `,
  },
  {
    version: 2,
    name: 'events_and_webhooks',
    sql: `
      CREATE TABLE sandbox_events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        owner       TEXT NOT NULL REFERENCES sandbox_accounts (username),
        type        TEXT NOT NULL CHECK (type IN ('ticket.created', 'ticket.updated', 'ticket.deleted')),
        occurred_at INTEGER NOT NULL,
        data        TEXT NOT NULL
      );
      CREATE INDEX sandbox_events_owner ON sandbox_events (owner, seq);
      CREATE INDEX sandbox_events_owner_time ON sandbox_events (owner, occurred_at, seq);
      -- The secret is kept as issued, not as a digest: the sandbox signs with it (HMAC needs the key).
      CREATE TABLE sandbox_webhooks (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        owner      TEXT NOT NULL REFERENCES sandbox_accounts (username),
        url        TEXT NOT NULL,
        secret     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX sandbox_webhooks_owner ON sandbox_webhooks (owner, seq);
    `,
  },
];

/** Opens the provider's database (WAL) and applies its pending migrations. */
export function openSandboxDb(file: string, clock: Clock): SandboxDb {
  // Its users' tickets and token hashes: private to the hub's user, as the hub's own database is.
  if (file !== ':memory:') restrictFiles(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS sandbox_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = db.prepare('SELECT 1 FROM sandbox_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO sandbox_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    // IMMEDIATE takes the write lock before the check, so two processes cannot both apply it.
    db.transaction(() => {
      if (applied.get(m.version)) return;
      db.exec(m.sql);
      record.run(m.version, m.name, clock.now());
    }).immediate();
  }
  return db;
}
