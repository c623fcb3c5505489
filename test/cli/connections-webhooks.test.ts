import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { openStore } from '../../servers/store-context.js';
import { CLI, runCli, tmpDir, type CliResult } from '../helpers/hub.js';

// The sandbox signs as Standard Webhooks: its secrets are base64 after an optional whsec_.
const SECRET = 'whsec_c2FuZGJveC1ob29rLVpxODE=';

/** Runs the CLI with `input` on its stdin (a secret typed or piped in, never on the command line). */
function runWithStdin(args: string[], cwd: string, input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input);
  });
}

describe('switchboard connections: account ids, webhook URLs and per-connection webhook secrets', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  let alice: string;
  let bob: string;

  beforeEach(async () => {
    dir = tmpDir();
    data = join(dir.path, 'data');
    const ctx = await openStore(configSchema.parse({ dataDir: data }));
    try {
      const repo = ctx.integrations.connections;
      alice = (
        await repo.link({
          tenant: 'default',
          user: 'alice',
          integration: 'sandbox',
          tokens: { accessToken: 'a', tokenType: 'Bearer' },
          scopes: [],
          accountId: 'alice-sb',
        })
      ).id;
      bob = (await repo.link({ tenant: 'default', user: 'bob', integration: 'sandbox', tokens: { accessToken: 'b', tokenType: 'Bearer' }, scopes: [] })).id;
    } finally {
      ctx.close();
    }
  });
  afterEach(() => dir.remove());

  it('webhook-secret --secret sets it (an endpoint URL is made and printed); list shows "set" and the URL, never the value', async () => {
    const before = await runCli(['connections', 'list', '--data', data], dir.path);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(new RegExp(`${alice}  default/alice  sandbox  active  .*account=alice-sb  webhook secret not set\\n`));
    expect(before.stdout).toMatch(new RegExp(`${bob}  default/bob  sandbox  active  .*account=-  webhook secret not set\\n`));

    const set = await runCli(['connections', 'webhook-secret', alice, '--secret', SECRET, '--data', data], dir.path);
    expect(set.code, set.stderr).toBe(0);
    const url = /point the provider at (http:\/\/127\.0\.0\.1:8787\/webhooks\/sandbox\/wh_[A-Za-z0-9_-]{24})\n$/.exec(set.stdout)?.[1];
    expect(url, set.stdout).toBeDefined();

    const after = await runCli(['connections', 'list', '--data', data], dir.path);
    expect(after.stdout).toContain(`account=alice-sb  webhook secret set  webhook URL ${url}\n`);
    expect(after.stdout + after.stderr).not.toContain(SECRET);
    const json = await runCli(['connections', 'list', '--json', '--data', data], dir.path);
    expect(json.stdout).not.toContain(SECRET);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows.find((r) => r['id'] === alice)).toMatchObject({ accountId: 'alice-sb', webhookSecret: 'set', webhookUrl: url, hasWebhookSecret: true });
    expect(rows.find((r) => r['id'] === bob)).toMatchObject({ accountId: null, webhookSecret: 'not set', webhookUrl: null });

    const cleared = await runCli(['connections', 'webhook-secret', alice, '--clear', '--data', data], dir.path);
    expect(cleared.stdout).toBe(`webhook secret of ${alice} removed\n`);
    // The endpoint stays: the provider may still be pointed at it, verified with the integration's secrets.
    expect((await runCli(['connections', 'list', '--data', data], dir.path)).stdout).toContain(
      `account=alice-sb  webhook secret not set  webhook URL ${url}\n`,
    );
  });

  it('without --secret the secret is read from stdin; a bad secret, an unknown connection or a missing id change nothing', async () => {
    const piped = await runWithStdin(['connections', 'webhook-secret', bob, '--data', data], dir.path, `${SECRET}\n`);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^webhook secret of conn_\S+ set; point the provider at http:\/\/127\.0\.0\.1:8787\/webhooks\/sandbox\/wh_/);
    const ctx = await openStore(configSchema.parse({ dataDir: data }));
    try {
      const c = await ctx.integrations.connections.get(bob);
      expect(await ctx.integrations.connections.webhookSecret(c!)).toBe(SECRET);
    } finally {
      ctx.close();
    }

    const empty = await runWithStdin(['connections', 'webhook-secret', alice, '--data', data], dir.path, '\n');
    expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining('webhook secret: the secret is empty')]);
    const spaced = await runCli(['connections', 'webhook-secret', alice, '--secret', 'two words', '--data', data], dir.path);
    expect(spaced.code).toBe(2);
    const unknown = await runCli(['connections', 'webhook-secret', 'conn_nope', '--secret', SECRET, '--data', data], dir.path);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no live connection conn_nope')]);
    const noId = await runCli(['connections', 'webhook-secret', '--secret', SECRET, '--data', data], dir.path);
    expect([noId.code, noId.stderr]).toEqual([2, expect.stringContaining('needs a connection id')]);
    expect((await runCli(['connections', 'list', '--data', data], dir.path)).stdout).toContain('account=alice-sb  webhook secret not set\n');
  });
});
