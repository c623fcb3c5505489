/**
 * Mistakes in how a command is called fail before the command does anything, with exit code 2, a
 * message naming the mistake and the command's usage: an argument more than the command takes,
 * an unknown or valueless flag, a missing or unknown subcommand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROOT, runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
let data: string;
const cli = (...args: string[]) => runCli([...args, '--data', data], dir.path);
beforeAll(() => {
  dir = tmpDir('switchboard-usage-');
  data = join(dir.path, 'data');
});
afterAll(() => dir.remove());

const listed = z.array(z.object({ id: z.string(), revokedAt: z.number().nullable().optional() }));
const tokenIds = async () => listed.parse(JSON.parse((await cli('tokens', 'list', '--json')).stdout)).map((t) => t.id);

describe('extra positionals', () => {
  it('tokens revoke A B revokes neither and names B; tokens create with an extra argument creates nothing', async () => {
    const made = await cli('tokens', 'create', '--user', 'alice');
    const id = /Created (tok_[0-9a-f]+)/.exec(made.stderr)?.[1] ?? '';
    expect(id).toMatch(/^tok_/);

    const both = await cli('tokens', 'revoke', id, 'tok_B');
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toMatch(/^switchboard tokens: unexpected argument "tok_B"\nusage: switchboard tokens create/);
    const extra = await cli('tokens', 'create', '--user', 'bob', 'extra');
    expect(extra).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('switchboard tokens: unexpected argument "extra"') });
    expect(await tokenIds()).toEqual([id]);
  });

  it.each([
    [['webhooks', 'replay', 'A', 'B'], 'webhooks', 'B'],
    [['users', 'invite', 'alice', 'bob'], 'users', 'bob'],
    [['queue', 'retry', 'a', 'b'], 'queue', 'b'],
    [['queue', 'list', 'x'], 'queue', 'x'],
    [['connections', 'revoke', 'id', 'extra'], 'connections', 'extra'],
    [['clients', 'revoke', 'sbc_a', 'sbc_b'], 'clients', 'sbc_b'],
    [['keys', 'rotate', 'extra'], 'keys', 'extra'],
    [['agents', 'list', 'extra'], 'agents', 'extra'],
    [['connect', 'acme', 'extra'], 'connect', 'extra'],
    [['init', 'extra'], 'init', 'extra'],
  ])('%j fails with exit 2 naming the argument, before opening anything', async (args, command, unexpected) => {
    const r = await cli(...args);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(new RegExp(`^switchboard ${command}: unexpected argument "${unexpected}"\\nusage: switchboard ${command} `));
    // Not even the data dir line: the command stopped before loading its config.
    expect(r.stderr).not.toContain('data dir:');
  });
});

describe('flags', () => {
  it.each([
    [['tokens', 'list', '--bogus'], 'switchboard tokens: unknown flag --bogus'],
    [['tokens', 'list', '--bogus=1'], 'switchboard tokens: unknown flag --bogus'],
    [['tokens', 'list', '-x'], 'switchboard tokens: unknown flag -x'],
    [['tokens', 'list', '--json=yes'], 'switchboard tokens: --json takes no value'],
    [['tokens', 'create', '--user', '--label', 'x'], 'switchboard tokens: --user needs a value'],
    [['clients', 'revoke', '--grant', '-h'], 'switchboard clients: --grant needs a value'],
    [['webhooks', 'list', '--state'], 'switchboard webhooks: --state needs a value'],
  ])('%j exits 2: %s, then the usage', async (args, message) => {
    const r = await cli(...args);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/\nusage: switchboard /);
    expect(r.stderr.startsWith(`${message}\n`)).toBe(true);
  });

  it('common flags before the command are the command’s (switchboard --data D tokens create …); flags alone are a missing command', async () => {
    const made = await runCli(['--data', data, 'tokens', 'create', '--user', 'carol', '--label', 'leading'], dir.path);
    expect(made).toMatchObject({ code: 0, stderr: expect.stringMatching(/Created tok_[0-9a-f]+/) });
    const labels = z.array(z.object({ label: z.string().nullable().optional() }));
    const all = labels.parse(JSON.parse((await runCli([`--data=${data}`, '--json', 'tokens', 'list'], dir.path)).stdout));
    expect(all.map((t) => t.label)).toContain('leading');
    // The command's own parser still judges them: one it does not take is refused as ever.
    expect(await runCli(['--bogus', 'tokens', 'list', '--data', data], dir.path)).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^switchboard tokens: unknown flag --bogus\n/),
    });
    expect(await runCli(['--data', data], dir.path)).toMatchObject({ code: 2, stderr: expect.stringMatching(/^switchboard: missing command\n/) });
  });

  it('a valueless flag at the very end names it too', async () => {
    const r = await runCli(['tokens', 'create', '--data', data, '--user'], dir.path);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/^switchboard tokens: --user needs a value\n/) });
  });
});

describe('subcommands and the version', () => {
  it.each(['tokens', 'users', 'clients', 'connections', 'webhooks', 'queue', 'keys', 'agents'])(
    '%s without a subcommand prints its usage on stderr and exits 2; with --help on stdout, 0',
    async (command) => {
      const r = await cli(command);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(new RegExp(`^switchboard ${command}: missing subcommand \\(.+\\)\\nusage: switchboard ${command} `));
      const help = await cli(command, '--help');
      expect(help).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^usage: switchboard /) });
    },
  );

  it('an unknown subcommand exits 2 naming it', async () => {
    const r = await cli('queue', 'retyr', 'j1');
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^switchboard queue: unknown subcommand "retyr"\nusage: /) });
  });

  it('no command at all prints the usage and exits 2; --version prints the package version', async () => {
    const none = await runCli([], dir.path);
    expect(none).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('usage: switchboard <command> [flags]') });
    const { version } = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')));
    expect(await runCli(['--version'], dir.path)).toEqual({ code: 0, stdout: `switchboard ${version}\n`, stderr: '' });
  });
});

describe('connect --timeout', () => {
  it.each(['abc', '0', '-5', '1.5', '86401'])('--timeout %s is refused before any link is made (exit 2)', async (value) => {
    const r = await cli('connect', 'sandbox', '--user', 'alice', `--timeout=${value}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard connect: --timeout ${value}: use whole seconds from 1 to 86400`);
    expect(r.stdout).toBe('');
  });
});

describe('a flag of another subcommand', () => {
  it.each([
    [['tokens', 'create', '--user', 'q', '--json'], '--json is not a flag of "tokens create"'],
    [['tokens', 'list', '--expires', '5x'], '--expires is not a flag of "tokens list"'],
    [['queue', 'purge', '--state', 'dead', '--json'], '--json is not a flag of "queue purge"'],
    [['connections', 'list', '--secret', 'x'], '--secret is not a flag of "connections list"'],
    [['clients', 'list', '--grant', 'g'], '--grant is not a flag of "clients list"'],
    [['agents', 'list', '--candidate', 'x'], '--candidate is not a flag of "agents list"'],
    // cli() adds --data, which init would lose: the printed entry runs with the config file alone.
    [['init', '--config', 'never-written.json'], '--data is not a flag of "init": set dataDir in the file it writes'],
  ])('%j is refused with exit 2, not accepted and ignored', async (args, said) => {
    const r = await cli(...args);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(said);
  });

  it('tokens create without --user makes no store; an empty --data is no data dir', async () => {
    const fresh = join(dir.path, 'never-made');
    const r = await runCli(['tokens', 'create', '--data', fresh], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain('tokens create needs --user');
    expect(existsSync(fresh)).toBe(false);
    const empty = await runCli(['tokens', 'create', '--user', 'x', '--data', ''], dir.path);
    expect(empty).toMatchObject({ code: 2, stdout: '' });
    expect(empty.stderr).toContain('--data needs a value, and "" is none');
    expect(existsSync(join(dir.path, 'switchboard.db'))).toBe(false);
  });
});

describe('bad values said plainly', () => {
  it('--host that is no host, a config that is a folder: one line naming the flag or the file; warnings as lines, not JSON', async () => {
    const host = await cli('users', 'invite', 'bob', '--host', 'a b');
    expect(host.code).toBe(1);
    expect(host.stderr).toContain('--host "a b": expected a host name or an IP address to bind');
    const folder = await cli('tokens', 'list', '--config', dir.path);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain(`config file ${dir.path} is a folder, not a file`);
    // A new data dir: the master key it makes is a warning a person reads.
    const fresh = await runCli(['users', 'invite', 'bob', '--data', join(dir.path, 'fresh')], dir.path);
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).toMatch(/^switchboard: warning: generated a master key file; back it up, .* \(file: .*master\.key\)$/m);
    expect(fresh.stderr).not.toContain('{"level"');
  });
});

describe('user and tenant names', () => {
  const NAME_RULE = ': use 1–128 characters from A-Z a-z 0-9 . _ @ -';
  it.each([
    // An empty value is no value, for every flag (common.ts).
    [['connect', 'sandbox', '--user', ''], '--user needs a value, and "" is none'],
    [['connect', 'sandbox', '--user', 'x/y'], `user "x/y"${NAME_RULE}`],
    [['connect', 'sandbox', '--tenant', 'a b'], `tenant "a b"${NAME_RULE}`],
    [['stdio', '--user', 'x/y', '--no-http'], `user "x/y"${NAME_RULE}`],
  ])('%j is refused with exit 2 before any link or hub is made, the name quoted', async (args, said) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(said);
  });
});
