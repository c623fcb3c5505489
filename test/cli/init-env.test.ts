/**
 * A config that reads `${NAME}` from the environment: a desktop client starts the hub with a few
 * variables of its own, not the shell's, so the printed entry without an `env` stopped at start
 * ("MY_TOKEN is not set"); and with the variable unset in init's own shell, init printed no entry
 * at all (exit 1). The entry names each variable read, for the user to fill in, and never a value.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

const entrySchema = z.strictObject({
  mcpServers: z.strictObject({
    switchboard: z.strictObject({ command: z.string(), args: z.array(z.string()), env: z.record(z.string(), z.string()).optional() }),
  }),
});

describe('switchboard init and the variables a config reads', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('switchboard-init-env-');
  });
  afterEach(() => dir.remove());

  it("puts each variable read without a default in the entry's env, empty, and says to fill it in", async () => {
    const file = join(dir.path, 'switchboard.config.json');
    const remote = {
      url: 'http://127.0.0.1:9/mcp',
      headers: { Authorization: 'Bearer ${MY_TOKEN}', a: '${WITH_DEFAULT:-x}', b: '$${LITERAL}', c: '${MY_TOKEN}' },
    };
    writeFileSync(file, `// \${IN_A_COMMENT}\n${JSON.stringify({ server: { port: 0 }, mcpServers: { remote } })}`);
    for (const env of [{}, { MY_TOKEN: 'tok-SECRET-value' }] as Record<string, string>[]) {
      const r = await runCliEnv(['init'], dir.path, { XDG_DATA_HOME: join(dir.path, 'xdg'), ...env });
      expect(r.code).toBe(0);
      const entry = entrySchema.parse(JSON.parse(r.stdout)).mcpServers.switchboard;
      expect(entry.env).toEqual({ MY_TOKEN: '' });
      expect(r.stdout).not.toContain('SECRET');
      expect(r.stderr).toContain(`${file} exists and was left as it is (it loads once MY_TOKEN is set).`);
      expect(r.stderr).toContain('fill in MY_TOKEN in the entry\'s "env"');
    }
  });

  it('prints no env for a config that reads none', async () => {
    writeFileSync(join(dir.path, 'switchboard.config.json'), '{ "logLevel": "warn" }');
    const r = await runCliEnv(['init'], dir.path, { XDG_DATA_HOME: join(dir.path, 'xdg') });
    expect(r.code).toBe(0);
    expect(entrySchema.parse(JSON.parse(r.stdout)).mcpServers.switchboard.env).toBeUndefined();
  });
});
