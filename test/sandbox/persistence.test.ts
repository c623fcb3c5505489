import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { api, link, refresh, startSandbox, type Harness } from './harness.js';

describe('sandbox state on disk', () => {
  let dir: string;
  let h: Harness | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
  });
  afterEach(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps linked accounts, tokens and tickets across a restart', async () => {
    const dbFile = join(dir, 'nested', 'sandbox.db');
    h = await startSandbox({ dbFile });
    const t = await link(h, 'alice');
    const created = (await (await api(h, 'POST', '/tickets', t.access_token, { title: 'survives' })).json()) as { id: string };
    await h.close();
    // Private to its user, as the hub's own database: a folder it made 0700, the file 0600.
    expect([statSync(join(dir, 'nested')).mode & 0o777, statSync(dbFile).mode & 0o777]).toEqual([0o700, 0o600]);

    h = await startSandbox({ dbFile });
    const got = await api(h, 'GET', `/tickets/${created.id}`, t.access_token);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { title: string }).title).toBe('survives');
    const r = await refresh(h, t.refresh_token);
    expect(r.status).toBe(200);
    expect(((await (await api(h, 'GET', '/me', r.body['access_token'] as string)).json()) as { username: string }).username).toBe('alice');
  });

  it('stores codes and tokens only as sha256 digests, in its own migration table', async () => {
    const dbFile = join(dir, 'sandbox.db');
    h = await startSandbox({ dbFile });
    const t = await link(h, 'alice');
    await h.close();
    h = undefined;

    const db = new Database(dbFile, { readonly: true });
    try {
      const dump = JSON.stringify([
        db.prepare('SELECT * FROM sandbox_tokens').all(),
        db.prepare('SELECT * FROM sandbox_codes').all(),
        db.prepare('SELECT * FROM sandbox_interactions').all(),
      ]);
      expect(dump).not.toContain(t.access_token);
      expect(dump).not.toContain(t.refresh_token);
      expect(dump).not.toContain('sbx_');
      const hashes = db.prepare('SELECT token_hash FROM sandbox_tokens').pluck().all() as string[];
      expect(hashes).toHaveLength(2);
      for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(db.prepare('SELECT version, name FROM sandbox_migrations').all()).toEqual([
        { version: 1, name: 'oauth_and_tickets' },
        { version: 2, name: 'events_and_webhooks' },
      ]);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'schema_migrations'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
