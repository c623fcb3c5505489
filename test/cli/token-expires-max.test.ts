/**
 * `tokens create --expires` past the store's ten years was refused in milliseconds ("token lifetime
 * 86399913600000 ms: must be a whole number of ms between 1 and 315360000000"), a unit nobody typed:
 * it names the flag as written and the longest lifetime in days. Ten years is still taken.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('tokens create --expires beyond ten years', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('exits 2 naming --expires and the longest lifetime, making nothing; 3650d is taken', async () => {
    dir = tmpDir('switchboard-token-max-');
    const data = join(dir.path, 'data');
    for (const expires of ['999999d', '3651d', '87625h']) {
      const r = await runCli(['tokens', 'create', '--user', 'alice', '--expires', expires, '--data', data], dir.path);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain(`--expires ${expires}: a token lives at most 3650d (ten years)`);
      expect(existsSync(data)).toBe(false);
    }
    const ok = await runCli(['tokens', 'create', '--user', 'alice', '--expires', '3650d', '--data', data], dir.path);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^sbt_/);
  });
});
