/**
 * The reading commands on a PostgreSQL database no hub has used (a new one, or the server's
 * default after a mistyped name) refuse with store_not_found and make nothing there, as they do on
 * a data dir without a store; they applied the whole schema and printed "no tokens". `doctor`
 * names the pending migrations and makes nothing either. A command that makes records still
 * makes the schema, and the readers then work on it.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { runCommand, sharedMasterKey } from './hub-support.js';

const READERS: readonly string[][] = [
  ['tokens', 'list'],
  ['tokens', 'revoke', 'tok_missing'],
  ['clients', 'list'],
  ['connections', 'list'],
  ['queue', 'list'],
  ['webhooks', 'list'],
];

describePg('commands on a PostgreSQL database no hub has used', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let env: Record<string, string>;
  const cli = (args: string[]) => runCommand([...args, '--data', join(dir.path, 'data')], dir.path, env);

  /** The tables in the database's public schema. */
  async function tables(): Promise<string[]> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const r = await c.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
      return r.rows.map((row) => row.name);
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-no-store-');
    env = { DATABASE_URL: db.url, SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
  });
  afterAll(async () => {
    await db?.drop();
    dir?.remove();
  });

  it('every reading command fails with store_not_found naming the database, and makes no table', async () => {
    for (const args of READERS) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`switchboard: error (store_not_found): no hub data in ${db.url}: the database holds no Switchboard tables`);
    }
    expect(await tables()).toEqual([]);
  });

  it('doctor names the pending migrations and makes no table', async () => {
    const r = await cli(['doctor']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FAIL database: postgres .* 0 migration\(s\) applied, pending: /);
    expect(r.stderr).not.toContain('vault:');
    expect(await tables()).toEqual([]);
  });

  it('tokens create makes the schema; the readers then answer from it', async () => {
    const made = await cli(['tokens', 'create', '--user', 'alice']);
    expect(made.code, made.stderr).toBe(0);
    expect(await tables()).toContain('schema_migrations');
    const listed = await cli(['tokens', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('alice');
  });
});
