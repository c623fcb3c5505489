/**
 * The repository contracts run against the SQLite implementations on ':memory:'. A PostgreSQL
 * implementation adds one call per contract here with its own harness.
 */
import { SqliteAsRecords } from '../../src/auth/records.js';
import { manualClock } from '../../src/clock.js';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { SqliteApiTokens } from '../../src/identity/tokens.js';
import { SqliteFlows } from '../../src/oauth/flow-store.js';
import { SqliteLinkUses } from '../../src/oauth/link-uses.js';
import { openDb } from '../../src/store/db.js';
import { HubSecrets } from '../../src/store/hub-secrets.js';
import { SqliteTasks } from '../../src/mcp/tasks/sqlite.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { SqliteInbox } from '../../src/webhooks/inbox/sqlite.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { SqliteAgentTasks } from '../../src/agents/tasks/sqlite.js';
import { agentTasksContract } from './contracts/agent-tasks.js';
import { apiTokensContract } from './contracts/api-tokens.js';
import { asRecordsContract } from './contracts/oauth-as.js';
import { connectionRepositoryContract } from './contracts/connections.js';
import { connectionWebhooksContract } from './contracts/connection-webhooks.js';
import { dataKeyStoreContract } from './contracts/data-keys.js';
import { flowRepositoryContract } from './contracts/flows.js';
import { linkUsesContract } from './contracts/link-uses.js';
import { inboxContract } from './contracts/inbox.js';
import { mcpTasksContract } from './contracts/mcp-tasks.js';
import { outboxContract } from './contracts/outbox.js';
import { secretStoreContract } from './contracts/secrets.js';
import { SqlitePollerStore } from '../../src/polling/store.js';
import { SqliteListCache } from '../../src/store/list-cache.js';
import { listCacheContract } from './contracts/list-cache.js';
import { pollerStoreContract } from './contracts/pollers.js';

function sqlite() {
  const clock = manualClock();
  const db = openDb({ file: ':memory:', clock });
  const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock });
  return { clock, db, vault };
}

connectionRepositoryContract('SQLite', () => {
  const { clock, db, vault } = sqlite();
  return { repo: sqliteConnections(new ConnectionStore(db, vault, clock)), advance: (ms) => clock.advance(ms), now: () => clock.now() };
});

connectionWebhooksContract('SQLite', () => {
  const { clock, db, vault } = sqlite();
  // Two repositories on one database, as a hub and a `connections` command on one file.
  return {
    repo: sqliteConnections(new ConnectionStore(db, vault, clock)),
    other: sqliteConnections(new ConnectionStore(db, vault, clock)),
    storedSecret: (id) => db.prepare('SELECT webhook_secret FROM connections WHERE id = ?').pluck().get(id) as string | null,
  };
});

secretStoreContract('SQLite', () => {
  const { clock, db, vault } = sqlite();
  // Two instances with their own caches on one database, as two processes on one file.
  return { a: new HubSecrets(db, vault, clock), b: new HubSecrets(db, vault, clock) };
});

linkUsesContract('SQLite', () => {
  const { clock, db } = sqlite();
  const uses = new SqliteLinkUses(db, clock);
  return { uses, sessions: uses, advance: (ms) => clock.advance(ms), now: () => clock.now() };
});

apiTokensContract('SQLite', () => {
  const { clock, db } = sqlite();
  // Two instances on one database, as a hub and a `tokens` command on one file.
  return { tokens: new SqliteApiTokens(db, clock), other: new SqliteApiTokens(db, clock), advance: (ms) => clock.advance(ms), now: () => clock.now() };
});

inboxContract('SQLite', () => {
  const { clock, db } = sqlite();
  // Two instances on one database, as a serve and a stdio hub on one file.
  return { inbox: new SqliteInbox(db, clock), other: new SqliteInbox(db, clock), advance: (ms) => clock.advance(ms), now: () => clock.now() };
});

flowRepositoryContract('SQLite', () => {
  const { clock, db } = sqlite();
  return { flows: new SqliteFlows(db), other: new SqliteFlows(db), now: () => clock.now() };
});

dataKeyStoreContract('SQLite', () => {
  const { clock, db } = sqlite();
  return { keys: new SqliteDataKeys(db), other: new SqliteDataKeys(db), now: () => clock.now() };
});

outboxContract('SQLite', () => {
  const { clock, db, vault } = sqlite();
  // Two instances on one database, as a hub and a `queue` command (or a second hub) on one file.
  return { outbox: new SqliteOutbox(db, clock, vault), other: new SqliteOutbox(db, clock, vault), advance: (ms) => clock.advance(ms), now: () => clock.now() };
});

agentTasksContract('SQLite', () => {
  const { clock, db, vault } = sqlite();
  // Two instances on one database, as a serve and a stdio hub on one file.
  return {
    tasks: new SqliteAgentTasks(db, vault, clock),
    other: new SqliteAgentTasks(db, vault, clock),
    advance: (ms) => clock.advance(ms),
    now: () => clock.now(),
    storedResult: (id) => db.prepare('SELECT result FROM agent_tasks WHERE id = ?').pluck().get(id) as string | null,
  };
});

mcpTasksContract('SQLite', () => {
  const { clock, db } = sqlite();
  // Two instances on one database, as two hub processes on one data dir.
  return { repo: new SqliteTasks(db), other: new SqliteTasks(db), now: () => clock.now() };
});

asRecordsContract('SQLite', () => {
  const { clock, db } = sqlite();
  // Two instances on one database, as two hub processes on one data dir.
  return { records: new SqliteAsRecords(db), other: new SqliteAsRecords(db), now: () => clock.now() };
});

pollerStoreContract('SQLite', () => {
  const { clock, db } = sqlite();
  // Two instances on one database, as two hub processes polling one data dir.
  return {
    store: new SqlitePollerStore(db, clock),
    other: new SqlitePollerStore(db, clock),
    advance: (ms) => clock.advance(ms),
    now: () => clock.now(),
    connection: async (id, state) => {
      db.prepare("INSERT INTO connections (id, tenant_id, user_id, integration, state, created_at, updated_at) VALUES (?, 'default', ?, 'acme', ?, 0, 0)").run(
        id,
        id,
        state,
      );
    },
  };
});

listCacheContract('SQLite', () => {
  const { clock, db } = sqlite();
  return {
    cache: new SqliteListCache(db, clock),
    other: new SqliteListCache(db, clock),
    writeRaw: async (server, hash, lists) => {
      db.prepare('INSERT INTO downstream_lists (server, config_hash, lists, updated_at) VALUES (?, ?, ?, 0)').run(server, hash, lists);
    },
    rows: async (server) => db.prepare('SELECT count(*) FROM downstream_lists WHERE server = ?').pluck().get(server) as number,
  };
});
