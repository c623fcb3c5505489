/**
 * `--limit N` of `webhooks list` and `queue list` takes a whole number written in digits, as
 * `--port` does: "0x10", "1e3" and " 5" were read by Number() as 16, 1000 and 5 and listed that many.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('--limit', () => {
  const dir = tmpDir('switchboard-limit-');
  const data = join(dir.path, 'data');
  const cli = (...args: string[]) => runCli([...args, '--data', data], dir.path);
  beforeAll(async () => {
    expect((await cli('tokens', 'create', '--user', 'alice')).code).toBe(0);
  });
  afterAll(() => dir.remove());

  it.each([['webhooks'], ['queue']])('%s list refuses a limit not written in digits (exit 2, naming it) and takes one that is', async (command) => {
    for (const limit of ['0x10', '1e3', ' 5', '5.0', '+5']) {
      const r = await cli(command, 'list', '--limit', limit);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain(`--limit ${limit}: use a whole number from 1 to 10000`);
    }
    expect(await cli(command, 'list', '--limit', '5', '--json')).toMatchObject({ code: 0, stdout: '[]\n' });
  });
});
