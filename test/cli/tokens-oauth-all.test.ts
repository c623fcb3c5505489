/** `tokens list --oauth --all` is a usage mistake: revoked grants are not kept, so --all would be ignored. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
beforeAll(() => {
  dir = tmpDir('switchboard-tokens-oauth-all-');
});
afterAll(() => dir.remove());

describe('tokens list --oauth --all', () => {
  it('exits 2 naming both flags, before opening anything; each alone still lists', async () => {
    const data = join(dir.path, 'data');
    const r = await runCli(['tokens', 'list', '--oauth', '--all', '--data', data], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^switchboard tokens: --all has no use with --oauth: .*\nusage: switchboard tokens create/);
    expect((await runCli(['tokens', 'create', '--user', 'alice', '--data', data], dir.path)).code).toBe(0);
    expect(await runCli(['tokens', 'list', '--oauth', '--data', data], dir.path)).toMatchObject({ code: 0, stdout: 'no OAuth grants\n' });
    expect((await runCli(['tokens', 'list', '--all', '--data', data], dir.path)).code).toBe(0);
  });
});
