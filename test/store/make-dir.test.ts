/**
 * The data dir and its files' folders are made level by level (src/make-dir.ts): Node's recursive
 * mkdir retries for ever under a parent that exists but cannot hold folders, which hung every
 * command given `--data /proc/…`.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDir } from '../../src/make-dir.js';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('makeDir', () => {
  const dir = tmpDir();
  afterAll(() => dir.remove());

  it('makes every missing level and names the first it made; a second call makes nothing', () => {
    const deep = join(dir.path, 'a', 'b', 'c');
    expect(makeDir(deep, 0o700)).toBe(join(dir.path, 'a'));
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(makeDir(deep, 0o700)).toBeUndefined();
  });

  it('fails with the path when a file is in the way or the parent cannot hold folders', () => {
    const file = join(dir.path, 'file');
    writeFileSync(file, 'x');
    expect(() => makeDir(file)).toThrow(`${file} is a file, not a folder`);
    expect(() => makeDir(join(file, 'below'))).toThrow(/ENOTDIR/);
    expect(() => makeDir('/proc/switchboard-no-such/data')).toThrow(/ENOENT.*\/proc\/switchboard-no-such/);
    expect(existsSync('/proc/switchboard-no-such')).toBe(false);
  });

  it('a command given --data under /proc fails at once, naming the path, instead of hanging', async () => {
    const r = await runCli(['tokens', 'create', '--user', 'alice', '--data', '/proc/switchboard-no-such'], dir.path);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/proc/switchboard-no-such');
  });

  it('a data dir that is a file, or a store file that is not SQLite, fails with store_failed naming the file and what to do', async () => {
    const file = join(dir.path, 'not-a-dir');
    writeFileSync(file, 'x');
    const asDir = await runCli(['tokens', 'create', '--user', 'alice', '--data', file], dir.path);
    expect(asDir.code).toBe(1);
    expect(asDir.stderr).toContain(
      `switchboard: error (store_failed): cannot make the database ${join(file, 'switchboard.db')}: ${file} is a file, not a folder`,
    );
    const data = join(dir.path, 'garbage');
    makeDir(data);
    writeFileSync(join(data, 'switchboard.db'), 'this is not SQLite, only some text that is long enough to hold a header\n'.repeat(20));
    const notDb = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(notDb.code).toBe(1);
    expect(notDb.stderr).toContain(
      `switchboard: error (store_failed): ${join(data, 'switchboard.db')} is not a SQLite database (SQLite: file is not a database); move it aside, or pick another --data`,
    );
  });
});
