import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

/** What a user sees: the built CLI reading a config file (build first: `npm run build`). */
describe('config blocks through the CLI', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('switchboard-config-cli-');
  });
  afterEach(() => dir.remove());

  function write(config: unknown): string {
    const file = join(dir.path, 'switchboard.config.json');
    writeFileSync(file, JSON.stringify(config));
    return file;
  }

  it('serve refuses a reserved source name before it starts, naming the file, the key and the name', async () => {
    const file = write({ mcpServers: { queue: { command: 'node' } } });
    const r = await runCli(['serve', '--config', file, '--data', join(dir.path, 'data'), '--port', '0'], dir.path);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchboard: error (config_invalid): ${file}: mcpServers.queue: "queue" is reserved: no source may be named "agent" or "queue" (the hub names its own tools agent__… and queue__…)\n`,
    });
  });

  it('serve refuses a typo inside a webhooks block', async () => {
    const file = write({ integrations: { sandbox: { webhooks: { secret: ['s'] } } } });
    const r = await runCli(['serve', '--config', file, '--data', join(dir.path, 'data'), '--port', '0'], dir.path);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `switchboard: error (config_invalid): ${file}: unknown key integrations.sandbox.webhooks.secret\n` });
  });

  it('a command on a config with webhookSecrets warns once, without the secret, and runs', async () => {
    const file = write({ integrations: { sandbox: { webhookSecrets: ['hunter2-secret'] } } });
    const r = await runCli(['tokens', 'create', '--user', 'alice', '--config', file, '--data', join(dir.path, 'data')], dir.path);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('webhookSecrets'))).toEqual([
      `switchboard: warning: ${file}: integrations.sandbox.webhookSecrets is deprecated: write integrations.sandbox.webhooks.secrets`,
    ]);
    // The first command to make the store makes its master key, and says to back it up.
    expect(r.stderr).toContain('switchboard: warning: generated a master key file; back it up');
    expect(r.stderr + r.stdout).not.toContain('hunter2-secret');
  });
});
