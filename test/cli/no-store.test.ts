/**
 * A command that only reads or removes records, pointed at a data dir with no store (a mistyped
 * `--data`, or before the first `serve`), says so and creates nothing: it used to make the folder,
 * a new database and a master key there, and print "no tokens". `doctor` reports it as a state,
 * not a failure; the commands that make records still create the store.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

const READERS: readonly string[][] = [
  ['tokens', 'list'],
  ['tokens', 'revoke', 'tok_missing'],
  ['clients', 'list'],
  ['clients', 'revoke', 'cl_missing'],
  ['connections', 'list'],
  ['queue', 'list'],
  ['webhooks', 'list'],
  ['keys', 'rotate'],
];

describe('commands on a data dir with no store', () => {
  const dir = tmpDir();
  afterAll(() => dir.remove());

  it('every reading command fails with store_not_found naming the dir, and leaves nothing behind', async () => {
    const data = join(dir.path, 'typo', 'data');
    for (const args of READERS) {
      const r = await runCli([...args, '--data', data], dir.path);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`switchboard: error (store_not_found): no hub data in ${data}: switchboard.db is not there`);
      expect(existsSync(join(dir.path, 'typo'))).toBe(false);
    }
  });

  it('on the per-user data dir (no --data), they and `agents list` make no folder either', async () => {
    const home = join(dir.path, 'xdg');
    const cwd = join(dir.path, 'elsewhere');
    mkdirSync(cwd);
    for (const args of [...READERS, ['agents', 'list']]) {
      const r = await runCliEnv(args, cwd, { XDG_DATA_HOME: home });
      expect({ args, code: r.code }).toEqual({ args, code: args[0] === 'agents' ? 0 : 1 });
      expect({ args, made: existsSync(join(home, 'switchboard')) }).toEqual({ args, made: false });
    }
  });

  it('a data dir that exists but holds no store is left as it was', async () => {
    const data = join(dir.path, 'empty');
    const made = await runCli(['tokens', 'create', '--user', 'alice', '--data', join(data, 'other')], dir.path);
    expect(made.code).toBe(0);
    const r = await runCli(['clients', 'list', '--data', data], dir.path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('store_not_found');
    expect(readdirSync(data)).toEqual(['other']);
  });

  it('a data dir that is a file is said to be one (store_failed), not a store that is missing', async () => {
    const data = join(dir.path, 'a-file');
    writeFileSync(data, 'not a folder');
    const r = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `switchboard: error (store_failed): cannot open the hub data in ${data}: ${join(data, 'switchboard.db')} cannot be there: a part of its path is a file, not a folder`,
    );
    expect(r.stderr).not.toContain('store_not_found');
  });

  it('doctor says there is no store yet, passes, and makes nothing', async () => {
    const data = join(dir.path, 'fresh');
    const r = await runCli(['doctor', '--data', data], dir.path);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`ok   data dir: ${data} (from --data), not made yet`);
    expect(r.stderr).toContain(`ok   database: sqlite, no store yet at ${join(data, 'switchboard.db')}`);
    expect(existsSync(data)).toBe(false);
  });

  it('tokens create makes the store, and the reading commands then work on it', async () => {
    const data = join(dir.path, 'first');
    const made = await runCli(['tokens', 'create', '--user', 'alice', '--data', data], dir.path);
    expect(made.code).toBe(0);
    const listed = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('alice');
    const doctor = await runCli(['doctor', '--data', data], dir.path);
    expect(doctor.stderr).toMatch(/ok {3}vault: master key mk_/);
  });
});
