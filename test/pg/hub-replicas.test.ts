import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { openPgStore } from '../../src/store/pg/pool.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { connectMcp } from '../integrations/mcp.js';
import { readyz, runCommand, serveProcess, sharedMasterKey, type Serving } from './hub-support.js';

/**
 * Two `serve` replicas started together on one fresh database, one named by DATABASE_URL and one
 * by `store.url` in its config file (issue 13): they migrate one at a time under the advisory
 * lock, both are ready, and a token the CLI makes works at either. `doctor` reports the store;
 * a bad or unreachable URL stops start-up with a message that never shows the password.
 */
const PASSWORD = 'hunter2-not-printed';

describePg('two serve replicas on one PostgreSQL database', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let key: string;
  let config: string;
  const replicas: Serving[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-replicas-');
    key = sharedMasterKey();
    config = join(dir.path, 'store-url.config.json');
    writeFileSync(config, JSON.stringify({ store: { url: db.url }, integrations: { sandbox: {} } }));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.drop();
    dir?.remove();
  });

  const env = () => ({ SWITCHBOARD_MASTER_KEY: key });

  it('start together on a fresh database, each migration applied once, and both are ready on postgres', async () => {
    replicas.push(
      ...(await Promise.all([
        serveProcess(['--data', join(dir.path, 'a')], dir.path, { ...env(), DATABASE_URL: db.url }),
        serveProcess(['--config', config, '--data', join(dir.path, 'b')], dir.path, env()),
      ])),
    );
    const pool = openPgStore({ url: db.url });
    try {
      const applied = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(applied.map((r) => Number(r.version))).toEqual(PG_MIGRATIONS.map((m) => m.version));
    } finally {
      await pool.close();
    }
    for (const r of replicas) {
      const ready = await eventually(async () => {
        const got = await readyz(r.origin);
        return got.body.status === 'ready' ? got : undefined;
      });
      expect(ready).toMatchObject({ status: 200, body: { store: { kind: 'postgres', ok: true } } });
    }
  });

  it('opens /mcp on either replica with one token the CLI created in the database', async () => {
    const made = await runCommand(['tokens', 'create', '--user', 'dana', '--config', config, '--data', join(dir.path, 'cli')], dir.path, env());
    expect(made.code, made.stderr).toBe(0);
    for (const r of replicas) {
      const mcp = await connectMcp(r.url, made.stdout.trim(), { era: 'auto' });
      try {
        expect((await mcp.tools()).map((t) => t.name)).toContain('sandbox__whoami');
      } finally {
        await mcp.close();
      }
    }
  });

  it('doctor names the store, reachable, with every migration applied', async () => {
    const r = await runCommand(['doctor', '--config', config, '--data', join(dir.path, 'cli')], dir.path, env());
    const url = new URL(db.url);
    expect(r.stderr).toMatch(
      new RegExp(
        `ok {3}database: postgres postgres://postgres@127\\.0\\.0\\.1:${url.port}${url.pathname} \\(from store\\.url\\), reachable, ${PG_MIGRATIONS.length} migration\\(s\\) applied, none pending, \\d+ active API token\\(s\\)`,
      ),
    );
  });

  it('doctor on a database not yet migrated names the pending migrations', async () => {
    const empty = await freshDatabase();
    try {
      const r = await runCommand(['doctor', '--data', join(dir.path, 'cli-empty')], dir.path, { ...env(), DATABASE_URL: empty.url });
      expect(r.stderr).toContain(
        `FAIL database: postgres ${empty.url} (from DATABASE_URL), reachable, 0 migration(s) applied, pending: ${PG_MIGRATIONS.map((m) => m.version).join(', ')}`,
      );
    } finally {
      await empty.drop();
    }
  });

  it('a DATABASE_URL that is not a PostgreSQL URL stops serve, naming the variable and not its value', async () => {
    const bad = `mysql://app:${PASSWORD}@127.0.0.1/app`;
    const failed = await serveProcess(['--data', join(dir.path, 'bad')], dir.path, { ...env(), DATABASE_URL: bad }).then(
      () => '',
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/serve exited before serving:[\s\S]*error \(config_invalid\): DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(failed).not.toContain(PASSWORD);
    const fromConfig = join(dir.path, 'bad.config.json');
    writeFileSync(fromConfig, JSON.stringify({ store: { url: bad } }));
    const r = await runCommand(['tokens', 'list', '--config', fromConfig, '--data', join(dir.path, 'bad')], dir.path, env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('store.url: expected a postgres:// or postgresql:// URL');
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it('an unreachable store stops serve and doctor with the URL named without its password', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const down = `postgres://app:${PASSWORD}@127.0.0.1:1/app`;
    const failed = await serveProcess(['--data', join(dir.path, 'down')], dir.path, { ...env(), DATABASE_URL: down }).then(
      () => '',
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/error \(store_failed\): cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app to migrate/);
    expect(failed).not.toContain(PASSWORD);
    const doctor = await runCommand(['doctor', '--data', join(dir.path, 'down')], dir.path, { ...env(), DATABASE_URL: down });
    expect(doctor.code).toBe(1);
    expect(doctor.stderr).toContain('FAIL database: postgres postgres://app:***@127.0.0.1:1/app (from DATABASE_URL): ');
    expect(doctor.stderr + doctor.stdout).not.toContain(PASSWORD);
  });
});
