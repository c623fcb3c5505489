/**
 * A replica on PostgreSQL bound to every interface (`--host 0.0.0.0`, as in a container) without
 * `server.internalUrl` registers a loopback address for the other replicas: right on one host,
 * wrong on several, where every retry it holds would end as source_crashed. It says so at start;
 * with internalUrl set, or on loopback, it says nothing of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { serveProcess, sharedMasterKey } from './hub-support.js';

const WARNING = /Other replicas reach this one at http:\/\/127\.0\.0\.1:\d+ \(server\.internalUrl is not set\)/;

describePg('a replica that tells the others a loopback address', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-internal-');
    env = { DATABASE_URL: db.url, SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
  });
  afterAll(async () => {
    await db?.drop();
    dir?.remove();
  });

  /** `serve` with the given server block, its output once it serves. */
  async function serveWith(name: string, server: Record<string, unknown>): Promise<string> {
    const config = join(dir.path, `${name}.json`);
    writeFileSync(config, JSON.stringify({ server: { publicUrl: 'https://mcp.example.test', ...server } }));
    const hub = await serveProcess(['--config', config, '--data', join(dir.path, name)], dir.path, env);
    try {
      return hub.output();
    } finally {
      await hub.stop();
    }
  }

  it('bound to 0.0.0.0 without internalUrl, it warns at start', async () => {
    expect(await serveWith('wild', { host: '0.0.0.0' })).toMatch(WARNING);
  });

  it('with internalUrl set, or bound to loopback, it does not', async () => {
    expect(await serveWith('named', { host: '0.0.0.0', internalUrl: 'http://10.0.0.5:8787' })).not.toMatch(/server\.internalUrl is not set/);
    expect(await serveWith('loop', {})).not.toMatch(/server\.internalUrl is not set/);
  });
});
