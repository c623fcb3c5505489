/**
 * `doctor` judges a config as `serve` does and answers `--json` whatever fails: an async agent
 * without its webhook secret is refused by the config check (naming the key and the file), and a
 * config that fails still gives a script its JSON.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli, tmpDir } from '../helpers/hub.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

describe('doctor and the config', () => {
  const dir = tmpDir();
  afterAll(() => dir.remove());

  it('refuses an async upagents agent without webhookSecret, naming the key and the file, in JSON with --json', async () => {
    const file = join(dir.path, 'async.json');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: join(dir.path, 'data'),
        agents: { late: { protocol: 'upagents', baseUrl: 'https://agents.example/v1', apiKey: 'k', agentId: 'a_v1', mode: 'async' } },
      }),
    );
    const r = await runCli(['doctor', '--json', '--config', file], dir.path);
    expect(r.code).toBe(1);
    const out = report.parse(JSON.parse(r.stdout));
    expect(out.ok).toBe(false);
    expect(out.checks).toHaveLength(1);
    expect(out.checks[0]!.line).toContain('agents.late.webhookSecret');
    expect(out.checks[0]!.line).toContain(file);
    // serve refuses it the same way, before anything starts.
    const serve = await runCli(['serve', '--config', file, '--port', '0'], dir.path);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain('agents.late.webhookSecret');
    expect(serve.stderr).toContain(file);
  });

  it('refuses, on a data dir no hub has used yet, an integrations block serve refuses, and lists the ones it takes', async () => {
    const file = join(dir.path, 'integrations.json');
    const data = join(dir.path, 'fresh-data');
    writeFileSync(file, JSON.stringify({ dataDir: data, integrations: { github: { clientId: 'Iv1.abc', clientSecret: 's3cret' } } }));
    const r = await runCli(['doctor', '--json', '--config', file], dir.path);
    expect(r.code).toBe(1);
    const failed = report.parse(JSON.parse(r.stdout)).checks.filter((c) => !c.ok);
    expect(failed.map((c) => c.line)).toEqual([expect.stringContaining('integrations.github: there is no built-in integration by that name')]);
    const serve = await runCli(['serve', '--config', file, '--port', '0'], dir.path);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toContain('integrations.github: there is no built-in integration by that name');

    const good = join(dir.path, 'integrations-good.json');
    const acme = { type: 'custom', apiBaseUrl: 'https://api.acme.test', auth: { type: 'apiKey', header: 'x-api-key', value: 'k' }, tools: {} };
    writeFileSync(good, JSON.stringify({ dataDir: data, integrations: { acme } }));
    const ok = report.parse(JSON.parse((await runCli(['doctor', '--json', '--config', good], dir.path)).stdout));
    expect(ok.checks.find((c) => c.line.startsWith('integrations:'))).toEqual({ ok: true, line: 'integrations: acme (a key from config)' });
  });
});
