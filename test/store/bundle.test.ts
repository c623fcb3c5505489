import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openSqliteStore, type HubStore, type SqliteHubStore } from '../../src/store/bundle.js';
import { openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { hubVault } from '../../src/vault/open.js';
import type { DeliveryInput } from '../../src/webhooks/inbox/types.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

const clock = manualClock(Date.UTC(2026, 0, 1));
const log = silentLogger();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function open(file: string, extra: { migrate?: boolean; checkpoints?: boolean } = {}): SqliteHubStore {
  const store = openSqliteStore({ file, clock, log, vault: hubVault({ dataDir: ':memory:', clock, log }), ...extra });
  cleanup.push(() => store.close());
  return store;
}

function fileIn(): string {
  const dir = tmpDir();
  cleanup.push(dir.remove);
  return join(dir.path, 'switchboard.db');
}

const delivery: DeliveryInput = { integration: 'acme', endpoint: 'default', deliveryId: 'd-1', type: 'ticket.created', source: 'webhook', payload: '{}' };

describe('the SQLite store bundle', () => {
  it('answers its health check while open, and says why not once closed; a second close is harmless', async () => {
    const store = open(':memory:');
    expect(store.kind).toBe('sqlite');
    expect(await store.health()).toEqual({ ok: true, kind: 'sqlite' });
    await store.close();
    await store.close();
    expect(store.db.open).toBe(false);
    expect(await store.health()).toEqual({ ok: false, kind: 'sqlite', error: expect.stringMatching(/not open/) });
  });

  it('on a file, checkpoints run on their own thread while it is open (the main connection only past 8192 pages); a command turns that off', async () => {
    const hub = open(fileIn());
    expect(hub.db.pragma('wal_autocheckpoint', { simple: true })).toBe(8192);
    const command = open(fileIn(), { checkpoints: false });
    expect(command.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('close commits the accepts still waiting for their group commit: their callers were promised a durable row', async () => {
    const file = fileIn();
    const store = open(file, { checkpoints: false });
    const inbox = store.openInbox({ groupCommit: true });
    const accepted = inbox.accept(delivery);
    await store.close();
    expect(await accepted).toEqual({ outcome: 'stored', eventId: expect.stringMatching(/^evt_/), routed: false });
    const db = openDb({ file, clock, readonly: true });
    cleanup.push(() => db.close());
    expect(db.prepare('SELECT count(*) FROM inbox_events').pluck().get()).toBe(1);
  });

  it('opened without migrating (the hub migrates as a part of its own), migrate() applies every migration once', async () => {
    const store = open(':memory:', { migrate: false });
    const tables = () => store.db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'inbox_events'").pluck().get();
    expect(tables()).toBe(0);
    expect(store.migrate().map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
    expect(store.migrate()).toEqual([]);
    expect(tables()).toBe(1);
  });

  it('a repository is built once: every part of the hub shares it (the API tokens’ revocation listeners, the secrets’ cache)', () => {
    const store = open(':memory:');
    expect(store.apiTokens).toBe(store.apiTokens);
    expect(store.secrets).toBe(store.secrets);
    expect(store.outbox).toBe(store.outbox);
  });
});

describe('a hub on a store handed in', () => {
  const config = () => configSchema.parse({ integrations: {}, fixtures: {} });

  it('runs on that store (an in-memory one is per connection: the hub opened no other), and closes it when it stops', async () => {
    const store = open(':memory:');
    const hub = new Hub({ config: config(), dataDir: ':memory:', log, clock, store });
    expect(hub.store).toBe(store);
    expect(hub.vault).toBe(store.vault);
    await hub.start();
    await hub.tokens.create({ user: 'alice' });
    expect(await store.apiTokens.count()).toBe(1);
    expect(store.db.prepare('SELECT count(*) FROM api_tokens').pluck().get()).toBe(1);
    await hub.stop();
    expect((await store.health()).ok).toBe(false);
  });

  it('hub.db on a store of another engine is a typed error, not a SQLite handle', async () => {
    const sqlite = open(':memory:');
    const other: HubStore = Object.create(sqlite, { kind: { value: 'postgres' } });
    const hub = new Hub({ config: config(), dataDir: ':memory:', log, clock, store: other });
    const err = hubErrorOf(() => hub.db);
    expect(err.code).toBe('internal');
    expect(err.message).toMatch(/SQLite store; the hub runs on postgres/);
  });
});
