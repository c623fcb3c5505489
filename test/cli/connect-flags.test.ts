/** `connect --no-wait --timeout N` is a usage mistake: --no-wait exits at once, so the timeout would be ignored. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
beforeAll(() => {
  dir = tmpDir('switchboard-connect-flags-');
});
afterAll(() => dir.remove());

describe('connect --no-wait --timeout', () => {
  it('exits 2 naming both flags, before any data dir is made', async () => {
    const data = join(dir.path, 'data');
    const r = await runCli(['connect', 'sandbox', '--no-wait', '--timeout', '5', '--data', data], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^switchboard connect: --timeout has no use with --no-wait .*\nusage: switchboard connect /);
    expect(r.stderr).not.toContain('data dir:');
  });
});
