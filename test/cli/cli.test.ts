import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../../src/clock.js';
import { SqliteApiTokens } from '../../src/identity/tokens.js';
import { openDb } from '../../src/store/db.js';
import { CLI, FIXTURE, runCli, tmpDir, type CliResult } from '../helpers/hub.js';

/**
 * Starts `serve`, waits for the line that says it is serving, then stops it with SIGTERM and
 * returns everything it printed, with the URL it announced.
 */
function serveOnce(args: string[], cwd: string, whileRunning: (url: string, stdout: string) => Promise<void>): Promise<CliResult & { url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let url: string | undefined;
    let failure: unknown;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /serving MCP at (\S+)/.exec(stdout);
      if (m && url === undefined) {
        url = m[1]!;
        whileRunning(url, stdout)
          .catch((err: unknown) => (failure = err))
          .finally(() => child.kill('SIGTERM'));
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (failure !== undefined) reject(failure);
      else if (url === undefined) reject(new Error(`serve exited (${code}) before serving:\n${stderr}`));
      else resolve({ code, stdout, stderr, url });
    });
  });
}

/** An MCP initialize POST: 200 when the token is accepted. */
async function initialize(url: string, token: string): Promise<Response> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } },
    }),
  });
  await res.body?.cancel();
  return res;
}

const listedToken = z.array(z.object({ id: z.string(), user: z.string(), tenant: z.string(), revokedAt: z.number().nullable() }));

describe('switchboard CLI', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  beforeEach(() => {
    dir = tmpDir('switchboard-cli-');
    data = join(dir.path, 'data');
  });
  afterEach(() => dir.remove());

  it('serve refuses a --port that is not digits (" ", hex, an exponent) instead of binding where Number() reads it', async () => {
    for (const port of [' ', '0x1F90', '1e4', '-1', '65536']) {
      const r = await runCli(['serve', '--port', port, '--data', data], dir.path);
      // A usage mistake (README, CLI): exit 2 with the usage.
      expect(r.code, port).toBe(2);
      expect(r.stderr).toContain(`--port ${port}: expected a port number 0–65535\nusage: switchboard serve`);
    }
  });

  it('tokens create prints only the token on stdout, and it verifies', async () => {
    const r = await runCli(['tokens', 'create', '--user', 'alice', '--label', 'ci', '--data', data], dir.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sbt_[A-Za-z0-9_-]{43}\n$/);
    const token = r.stdout.trim();
    const id = /Created (tok_[0-9a-f]+) for default\/alice/.exec(r.stderr)?.[1];
    expect(id).toBeDefined();

    const db = openDb({ file: join(data, 'switchboard.db'), clock: systemClock });
    try {
      expect(await new SqliteApiTokens(db, systemClock).verify(token)).toEqual({ tenant: 'default', user: 'alice', scopes: ['mcp'], tokenId: id });
    } finally {
      db.close();
    }
  });

  it('tokens list shows ids and never the token; revoke ends it', async () => {
    const created = await runCli(['tokens', 'create', '--user', 'alice', '--tenant', 'acme', '--label', 'laptop', '--data', data], dir.path);
    const other = await runCli(['tokens', 'create', '--user', 'bob', '--data', data], dir.path);
    const token = created.stdout.trim();
    const id = /Created (tok_[0-9a-f]+)/.exec(created.stderr)?.[1] ?? '';
    const otherId = /Created (tok_[0-9a-f]+)/.exec(other.stderr)?.[1] ?? '';
    expect(id).toMatch(/^tok_/);

    const list = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${id}  acme/alice  scopes=mcp  .*  active  "laptop"$`));
    expect(lines[1]).toMatch(new RegExp(`^${otherId}  default/bob  `));
    for (const out of [list.stdout, list.stderr]) {
      expect(out).not.toContain(token);
      expect(out).not.toContain(token.slice(4));
    }

    const json = await runCli(['tokens', 'list', '--json', '--data', data], dir.path);
    expect(json.stdout).not.toContain(token.slice(4));
    expect(listedToken.parse(JSON.parse(json.stdout)).map((t) => t.id)).toEqual([id, otherId]);

    const revoked = await runCli(['tokens', 'revoke', id, '--data', data], dir.path);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`revoked ${id}\n`);

    const after = await runCli(['tokens', 'list', '--data', data], dir.path);
    expect(after.stdout).not.toContain(id);
    expect(after.stdout).toContain(otherId);
    const all = await runCli(['tokens', 'list', '--all', '--data', data], dir.path);
    expect(all.stdout).toMatch(new RegExp(`^${id} .* revoked \\d{4}-`, 'm'));

    const db = openDb({ file: join(data, 'switchboard.db'), clock: systemClock });
    try {
      expect(await new SqliteApiTokens(db, systemClock).verify(token)).toBeUndefined();
    } finally {
      db.close();
    }

    const again = await runCli(['tokens', 'revoke', id, '--data', data], dir.path);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no active token ${id}`);
  });

  it('tokens create without --user fails with usage and exit code 2', async () => {
    const r = await runCli(['tokens', 'create', '--data', data], dir.path);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('tokens create needs --user');
  });

  it('doctor passes a good config with a working downstream server', async () => {
    const file = join(dir.path, 'good.json');
    // Port 0: doctor checks what answers at the public URL, and other tests' hubs may hold 8787.
    writeFileSync(file, JSON.stringify({ dataDir: data, server: { port: 0 }, mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--stdio'] } } }));
    const r = await runCli(['doctor', '--config', file], dir.path);
    expect(r.stderr).toContain(`ok   config: ${file}`);
    expect(r.stderr).toMatch(/ok {3}mcpServers\.fx: ready in \d+ ms, \d+ tools/);
    expect(r.stdout).toBe('doctor: everything looks right\n');
    expect(r.code).toBe(0);
  });

  it('doctor fails on an unknown config key, naming the key and the file', async () => {
    const file = join(dir.path, 'typo.json');
    writeFileSync(file, JSON.stringify({ dataDir: data, mcpServrs: {} }));
    const r = await runCli(['doctor', '--config', file], dir.path);
    expect(r.code).toBe(1);
    const output = r.stdout + r.stderr;
    expect(output).toContain('mcpServrs');
    expect(output).toContain(file);
    expect(r.stderr).toMatch(/FAIL config: .*unknown key mcpServrs/);
  });

  it('doctor fails on a downstream server whose command is missing, naming the server', async () => {
    const file = join(dir.path, 'missing.json');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: data,
        server: { port: 0 },
        mcpServers: { fx: { command: process.execPath, args: [FIXTURE, '--stdio'] }, ghost: { command: '/nonexistent/switchboard-no-such-server' } },
      }),
    );
    const r = await runCli(['doctor', '--config', file], dir.path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FAIL mcpServers\.ghost: .*ENOENT/);
    expect(r.stderr).toMatch(/ok {3}mcpServers\.fx: ready/);
    expect(r.stdout).toBe('doctor: 1 problem(s) found\n');
  });

  it('fails with config_not_found for a missing --config', async () => {
    const missing = join(dir.path, 'nope.json');
    const doctor = await runCli(['doctor', '--config', 'nope.json'], dir.path);
    expect(doctor.code).toBe(1);
    expect(doctor.stderr).toContain(`FAIL config: config file not found: ${missing}`);
    const tokens = await runCli(['tokens', 'list', '--config', 'nope.json'], dir.path);
    expect(tokens.code).toBe(1);
    expect(tokens.stderr).toBe(`switchboard: error (config_not_found): config file not found: ${missing}\n`);
  });

  it('serve makes an admin token on the first start of a data dir only', { timeout: 60_000 }, async () => {
    // stdout is a pipe here, so the token goes to a 0600 file (test/cli/first-token.test.ts has both cases).
    const first = await serveOnce(['--data', data], dir.path, async (url) => {
      // The token is live: it opens a session on the hub that made it.
      const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
      expect((await initialize(url, token)).status).toBe(200);
      expect((await initialize(url, 'sbt_wrong')).status).toBe(401);
    });
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    expect(token).toMatch(/^sbt_[A-Za-z0-9_-]{43}$/);
    expect(first.stdout).not.toContain(token);
    expect(first.stdout).toContain(join(data, 'admin-token'));
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    // Logs go to stderr and must not carry it.
    expect(first.stderr).not.toContain(token.slice(4));

    const second = await serveOnce(['--data', data], dir.path, async (url) => {
      expect((await initialize(url, token)).status).toBe(200);
    });
    expect(second.stdout).toMatch(/^Switchboard is serving MCP at http:\/\/127\.0\.0\.1:\d+\/mcp\n$/);
    expect(second.stdout + second.stderr).not.toMatch(/sbt_/);
    expect(second.code).toBe(0);
  });

  it('serve says so when the config pins a publicUrl on this machine at another port than --port', { timeout: 60_000 }, async () => {
    const file = join(dir.path, 'pinned.jsonc');
    writeFileSync(file, '{ "server": { "publicUrl": "http://127.0.0.1:8787" } }');
    const r = await serveOnce(['--config', file, '--data', data], dir.path, async () => {});
    expect(r.url).toBe('http://127.0.0.1:8787/mcp');
    expect(r.stdout).toMatch(/server\.publicUrl \(http:\/\/127\.0\.0\.1:8787\) names port 8787 on this machine, but this hub listens on \d+/);
    expect(r.stderr).toContain('names port 8787 on this machine');
    // A replica behind a balancer on this machine (internalUrl set) names the balancer's port on purpose.
    const replica = join(dir.path, 'replica.jsonc');
    writeFileSync(replica, '{ "server": { "publicUrl": "http://127.0.0.1:8787", "internalUrl": "http://127.0.0.1:9701" } }');
    const quiet = await serveOnce(['--config', replica, '--data', data], dir.path, async () => {});
    expect(quiet.stdout + quiet.stderr).not.toContain('names port 8787');
  });

  it('serve says nothing of a publicUrl at another port on this machine when a hub on its own store answers there (a balancer in front)', {
    timeout: 60_000,
  }, async () => {
    await serveOnce(['--data', data], dir.path, async (front) => {
      const origin = new URL(front).origin;
      const file = join(dir.path, 'behind.jsonc');
      writeFileSync(file, JSON.stringify({ server: { publicUrl: origin } }));
      const behind = await serveOnce(['--config', file, '--data', data], dir.path, async () => {});
      expect(behind.stdout + behind.stderr).not.toContain('names port');
      // A hub on another store answering there is no front of this one: said as before.
      const other = await serveOnce(['--config', file, '--data', join(dir.path, 'other-data')], dir.path, async () => {});
      expect(other.stdout).toContain(`server.publicUrl (${origin}) names port ${new URL(origin).port} on this machine`);
    });
  });
});
