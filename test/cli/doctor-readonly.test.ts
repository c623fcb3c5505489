/**
 * `doctor` diagnoses and makes nothing: not the per-user data dir it would use, not a store. It
 * says a file given as the data dir is not one, gives each downstream server its own
 * `startupTimeoutMs` (the time the hub waits before a first tools/list goes without it), and
 * `--help` prints its usage instead of running the checks.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

/** The CLI with the per-user data dir (XDG_DATA_HOME on Linux) inside the test's folder. */
const doctor = (args: string[], cwd: string, xdg: string) => runCliEnv(['doctor', ...args], cwd, { XDG_DATA_HOME: xdg });

describe('doctor makes nothing', () => {
  const dir = tmpDir();
  const home = join(dir.path, 'xdg');
  const cwd = join(dir.path, 'work');
  mkdirSync(home);
  mkdirSync(cwd);
  afterAll(() => dir.remove());

  it('--help prints its usage and runs no check', async () => {
    const r = await doctor(['--help'], cwd, home);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: switchboard doctor \[--json\]/);
    expect(r.stderr).toBe('');
  });

  it('leaves the per-user data dir unmade, saying so', async () => {
    const r = await doctor(['--json'], cwd, home);
    const out = report.parse(JSON.parse(r.stdout));
    expect(out.checks.map((c) => c.line)).toContainEqual(expect.stringMatching(/^data dir: .*\/xdg\/switchboard .*not made yet/));
    expect(existsSync(join(home, 'switchboard'))).toBe(false);
  });

  it("makes no master key for a store that has none; once secrets are sealed under the environment's key, says it is missing without it", {
    timeout: 30_000,
  }, async () => {
    const data = join(dir.path, 'keyed-by-env');
    const key = { SWITCHBOARD_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };
    expect((await runCliEnv(['tokens', 'create', '--user', 'ops', '--data', data], cwd, { ...key, XDG_DATA_HOME: home })).code).toBe(0);
    const r = await doctor(['--json', '--data', data], cwd, home);
    expect(report.parse(JSON.parse(r.stdout)).checks).toContainEqual({
      ok: true,
      line: expect.stringMatching(/^vault: no master key yet .*nothing is sealed yet$/),
    });
    expect(existsSync(join(data, 'master.key'))).toBe(false);
    // A command that opens the vault with the environment's key seals under it (the hosted sandbox's client secret).
    expect((await runCliEnv(['connections', 'list', '--data', data], cwd, { ...key, XDG_DATA_HOME: home })).code).toBe(0);
    // Sealed now under the environment's key: without it, doctor says the key is missing, and still makes none.
    const without = await doctor(['--json', '--data', data], cwd, home);
    expect(without.code).toBe(1);
    expect(report.parse(JSON.parse(without.stdout)).checks).toContainEqual({
      ok: false,
      line: expect.stringMatching(/^vault: 1 stored data key\(s\) and no master key: set SWITCHBOARD_MASTER_KEY/),
    });
    expect(existsSync(join(data, 'master.key'))).toBe(false);
  });

  it('fails a data dir that is a file', async () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'x');
    const r = await doctor(['--json', '--data', file], cwd, home);
    expect(r.code).toBe(1);
    expect(report.parse(JSON.parse(r.stdout)).checks).toContainEqual({ ok: false, line: `data dir: ${file}: it is a file, not a folder` });
  });

  it('gives a server that never answers its startupTimeoutMs, and says what that means', { timeout: 20_000 }, async () => {
    const config = join(dir.path, 'mute.json');
    const mute = { command: process.execPath, args: ['-e', 'process.stdin.resume()'], startupTimeoutMs: 1500 };
    writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), mcpServers: { mute } }));
    const r = await doctor(['--json', '--config', config], cwd, home);
    expect(r.code).toBe(1);
    const line = report.parse(JSON.parse(r.stdout)).checks.find((c) => c.line.startsWith('mcpServers.mute:'));
    expect(line).toMatchObject({
      ok: false,
      line: expect.stringContaining("(not ready within startupTimeoutMs, 1500 ms: a client's first tools/list would go without it)"),
    });
  });

  it('fails a server that answers, but later than its startupTimeoutMs', { timeout: 20_000 }, async () => {
    const config = join(dir.path, 'late.json');
    // Reads nothing for 2 s, then answers as a 2025 server with one tool.
    const script = `setTimeout(() => {
      const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'late', version: '1' } } });
        else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 't', inputSchema: { type: 'object' } }] } });
        else if (m.id !== undefined) send({ jsonrpc: '2.0', id: m.id, result: {} });
      });
    }, 2000)`;
    const late = { command: process.execPath, args: ['-e', script], startupTimeoutMs: 500 };
    writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), mcpServers: { late } }));
    const r = await doctor(['--json', '--config', config], cwd, home);
    expect(r.code).toBe(1);
    const line = report.parse(JSON.parse(r.stdout)).checks.find((c) => c.line.startsWith('mcpServers.late:'));
    expect(line).toEqual({
      ok: false,
      line: expect.stringMatching(
        /^mcpServers\.late: ready in \d+ ms, 1 tools, protocol 2025-06-18, past its startupTimeoutMs \(500 ms\): a client's first tools\/list with no cached list goes without its tools; raise startupTimeoutMs$/,
      ),
    });
  });

  it('starts a server with per-identity placeholders as the hub lists it, making nothing in the data dir', async () => {
    const config = join(dir.path, 'placeholders.json');
    // Ready only when the placeholders were filled: an absolute folder that exists, an empty user name.
    const script = `const fs = require('node:fs');
      const d = process.env.HOME_OF_USER;
      if (!d.startsWith('/') || !fs.statSync(d).isDirectory() || process.env.WHO !== '') { console.error('unfilled: ' + d + ' ' + process.env.WHO); process.exit(3); }
      const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
        const m = JSON.parse(l);
        if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'own', version: '1' } } });
        else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [] } });
        else if (m.id !== undefined) send({ jsonrpc: '2.0', id: m.id, result: {} });
      });`;
    const own = {
      command: process.execPath,
      args: ['-e', script],
      env: { HOME_OF_USER: '${SWITCHBOARD_USER_DIR}', WHO: '${SWITCHBOARD_USER}' },
      isolation: 'user',
    };
    const data = join(dir.path, 'placeholder-data');
    writeFileSync(config, JSON.stringify({ dataDir: data, mcpServers: { own } }));
    const r = await doctor(['--json', '--config', config], cwd, home);
    const line = report.parse(JSON.parse(r.stdout)).checks.find((c) => c.line.startsWith('mcpServers.own:'));
    expect(line).toEqual({ ok: true, line: expect.stringMatching(/^mcpServers\.own: ready in \d+ ms, 0 tools/) });
    expect(existsSync(data)).toBe(false);
  });
});
