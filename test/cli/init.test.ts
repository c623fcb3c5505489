import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load.js';
import { ROOT, tmpDir } from '../helpers/hub.js';
import { listToolsLikeDesktop } from './desktop-client.js';
import { runCliEnv } from './run-env.js';

const entrySchema = z.strictObject({ mcpServers: z.strictObject({ switchboard: z.strictObject({ command: z.string(), args: z.array(z.string()) }) }) });
const EXAMPLE = join(ROOT, 'switchboard.example.jsonc');

describe('switchboard init', () => {
  let dir: ReturnType<typeof tmpDir>;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = tmpDir('switchboard-init-');
    env = { XDG_DATA_HOME: join(dir.path, 'xdg') };
  });
  afterEach(() => dir.remove());

  it('the shipped example config has comments and loads with the real loader', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    expect(text).toMatch(/^\s*\/\/ /m);
    const loaded = loadConfig({ file: EXAMPLE, env: {} });
    expect(loaded).toMatchObject({
      file: EXAMPLE,
      // No dataDir: the store `npm start` made before the file existed stays the one in use.
      dataDirSet: false,
      config: { server: { host: '127.0.0.1', port: 8787 }, integrations: { sandbox: {} } },
    });
    expect(loaded.config.mcpServers['everything']).toMatchObject({ command: 'npx', disabled: true });
  });

  it('writes the example, prints an entry that works from / with a 1.x SDK client, and never overwrites', { timeout: 60_000 }, async () => {
    const first = await runCliEnv(['init'], dir.path, env);
    expect(first.code).toBe(0);
    const file = join(dir.path, 'switchboard.config.json');
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(EXAMPLE, 'utf8'));
    expect(first.stderr).toContain(`Wrote ${file}`);
    const entry = entrySchema.parse(JSON.parse(first.stdout));
    expect(entry.mcpServers.switchboard).toEqual({ command: process.execPath, args: [join(ROOT, 'dist/servers/cli.js'), 'stdio', '--config', file] });

    // A free port keeps this hub's HTTP listener clear of any hub already on 8787.
    const config = readFileSync(file, 'utf8').replace('"port": 8787', '"port": 0');
    writeFileSync(file, config);
    const { tools, stderr } = await listToolsLikeDesktop(entry.mcpServers.switchboard, env);
    expect(tools).toEqual(expect.arrayContaining(['sandbox__list_tickets']));
    // The per-user data dir, not one relative to the client's working directory (/).
    expect(stderr).toContain(`data dir: ${join(dir.path, 'xdg', 'switchboard')} (the per-user default`);
    expect(existsSync(join(dir.path, 'xdg', 'switchboard', 'switchboard.db'))).toBe(true);

    writeFileSync(file, '{ "logLevel": "warn" } // mine');
    const again = await runCliEnv(['init'], dir.path, env);
    expect(again.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('{ "logLevel": "warn" } // mine');
    expect(again.stderr).toContain(`${file} exists and was left as it is (it loads).`);
    expect(entrySchema.parse(JSON.parse(again.stdout))).toEqual(entry);
  });

  it('a store already in ./data (an install from before the data-dir rule) is named in the config it writes, so the entry started in / meets it', async () => {
    const made = await runCliEnv(['tokens', 'create', '--user', 'alice', '--data', './data'], dir.path, env);
    expect(made.code).toBe(0);
    const r = await runCliEnv(['init'], dir.path, env);
    expect(r.code).toBe(0);
    const file = join(dir.path, 'switchboard.config.json');
    expect(r.stderr).toContain(`Found a store in ${join(dir.path, 'data')}`);
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.dataDirSet).toBe(true);
    // As the desktop client starts it: from /, with the file alone.
    const fromRoot = await runCliEnv(['tokens', 'list', '--json', '--config', file], '/', env);
    expect(fromRoot.code).toBe(0);
    expect(JSON.parse(fromRoot.stdout)).toEqual([expect.objectContaining({ user: 'alice' })]);
  });

  it('an existing config that leaves ./data behind for the desktop entry says so', async () => {
    await runCliEnv(['tokens', 'create', '--user', 'alice', '--data', './data'], dir.path, env);
    const file = join(dir.path, 'switchboard.config.json');
    writeFileSync(file, '{ "logLevel": "warn" }');
    const r = await runCliEnv(['init'], dir.path, env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`would use ${join(dir.path, 'xdg', 'switchboard')}: set "dataDir": "${join(dir.path, 'data')}"`);
  });

  it('makes the folder of a config written where none exists yet (~/.config/switchboard on a fresh machine)', async () => {
    const file = join(dir.path, 'config', 'switchboard', 'config.jsonc');
    const r = await runCliEnv(['init', '--config', file], dir.path, env);
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(EXAMPLE, 'utf8'));
  });

  it('refuses to vouch for an existing config that does not load, naming line and column', async () => {
    const file = join(dir.path, 'switchboard.config.json');
    writeFileSync(file, '{\n  "logLevel": "warn"\n  "dataDir": "x"\n}\n');
    const r = await runCliEnv(['init'], dir.path, env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `switchboard: error (config_invalid): ${file}:3:3: not valid JSON (comments and trailing commas are fine): CommaExpected at "\\"dataDir\\""\n`,
    );
  });
});
