/**
 * README (CLI): "A usage mistake … changes nothing and exits 2". An argument the store would refuse
 * (a lifetime, a scope, a name, an integration the config does not declare) is refused before the
 * store is opened, so a new --data (or the per-user data dir) is left as it was: no folder, no
 * master key, no database.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

let dir: ReturnType<typeof tmpDir>;
beforeAll(() => {
  dir = tmpDir('switchboard-makes-nothing-');
});
afterAll(() => dir.remove());

const NAME_RULE = 'use 1–128 characters from A-Z a-z 0-9 . _ @ -';

describe('a mistake the store would refuse leaves no data dir behind', () => {
  it.each([
    [['tokens', 'create', '--user', 'x', '--expires', '5y'], '--expires 5y: use a whole number and a unit'],
    [['tokens', 'create', '--user', 'x', '--expires', '99999d'], '--expires 99999d: a token lives at most 3650d (ten years)'],
    [['tokens', 'create', '--user', 'x', '--scopes', 'bogus'], 'scopes ["bogus"]: use one or more of'],
    [['tokens', 'create', '--user', 'bad/name'], `user "bad/name": ${NAME_RULE}`],
    [['tokens', 'create', '--user', 'x', '--tenant', 'a b'], `tenant "a b": ${NAME_RULE}`],
    [['tokens', 'revoke'], 'tokens revoke needs a token id'],
    [['users', 'invite', 'bob', '--expires', '40d'], 'an invite lives at most 30 days'],
    [['users', 'invite', 'bob', '--expires', '5y'], '--expires 5y: use a whole number and a unit'],
    [['users', 'invite', 'bad/name'], '"default/bad/name" is not a hub user name'],
    [['connect', 'nope', '--no-wait'], 'no integration "nope" is configured (configured: sandbox)'],
  ])('%j exits 2 with its message and makes nothing', async (args, said) => {
    const data = join(dir.path, `never-${args.join('-').replace(/[^a-z0-9-]/gi, '_')}`);
    const r = await runCli([...args, '--data', data], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(said);
    expect(existsSync(data)).toBe(false);
  });

  it('connect names why an integration the config declares cannot be linked: a key from config, or disabled; and the keyed ones among those configured', async () => {
    const file = join(dir.path, 'keyed.json');
    const acme = { type: 'custom', apiBaseUrl: 'https://api.acme.test', auth: { type: 'apiKey', header: 'x-api-key', value: 'k' }, tools: {} };
    writeFileSync(file, JSON.stringify({ integrations: { acme, sandbox: { disabled: true } } }));
    for (const [name, said] of [
      ['acme', 'integrations.acme is called with the key its "auth" gives in the config: there is no account to link'],
      ['sandbox', 'integrations.sandbox is disabled in the config (configured: none; acme needs no linking: called with what the config gives)'],
      ['github', 'no integration "github" is configured (configured: none; acme needs no linking: called with what the config gives)'],
    ] as const) {
      const data = join(dir.path, `never-keyed-${name}`);
      const r = await runCli(['connect', name, '--no-wait', '--config', file, '--data', data], dir.path);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain(said);
      expect(existsSync(data)).toBe(false);
    }
  });

  it('keys rotate on a PostgreSQL store with a master key file refuses, naming the way every replica keeps its key', async () => {
    const data = join(dir.path, 'never-keys-pg');
    // Nothing listens there: the refusal comes before any store is opened.
    const r = await runCliEnv(['keys', 'rotate', '--data', data], dir.path, {
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/switchboard',
      SWITCHBOARD_MASTER_KEY: '',
    });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('keys rotate: this store is PostgreSQL, shared by every replica');
    expect(r.stderr).toContain('Rotate with SWITCHBOARD_MASTER_KEY instead');
    expect(existsSync(data)).toBe(false);
  });

  it('keys rotate with one key in SWITCHBOARD_MASTER_KEY refuses, saying to give NEW,OLD', async () => {
    const data = join(dir.path, 'never-keys-one');
    const r = await runCliEnv(['keys', 'rotate', '--data', data], dir.path, { SWITCHBOARD_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('keys rotate: SWITCHBOARD_MASTER_KEY holds one key, so there is nothing to rotate to. Set it to "NEW,OLD"');
    expect(existsSync(data)).toBe(false);
  });

  it('the per-user data dir is not made either (no --data, no config, no ./data)', async () => {
    const cwd = join(dir.path, 'empty-cwd');
    const xdg = join(dir.path, 'xdg');
    mkdirSync(cwd);
    for (const args of [
      ['tokens', 'create', '--user', 'x', '--expires', '5y'],
      ['users', 'invite', 'bob', '--expires', '40d'],
      ['connect', 'nope', '--no-wait'],
    ]) {
      const r = await runCliEnv(args, cwd, { XDG_DATA_HOME: xdg });
      expect(r.code, r.stderr).toBe(2);
      expect(existsSync(xdg), args.join(' ')).toBe(false);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('with its arguments right, connect makes the store and prints the link (control)', async () => {
    const data = join(dir.path, 'made');
    // Port 1: nothing listens there, so the link is printed with a note and --no-wait returns.
    const r = await runCli(['connect', 'sandbox', '--no-wait', '--port', '1', '--data', data], dir.path);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:1\/oauth\/sandbox\/start\?link=/);
    expect(readdirSync(data)).toEqual(expect.arrayContaining(['master.key', 'switchboard.db']));
  });
});
