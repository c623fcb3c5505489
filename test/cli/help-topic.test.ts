/** `switchboard help <command>` prints that command's usage (as `<command> --help` does), not the overview. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
beforeAll(() => {
  dir = tmpDir('switchboard-help-');
});
afterAll(() => dir.remove());

describe('switchboard help <command>', () => {
  it.each(['tokens', 'queue', 'init', 'connect'])('help %s is %s --help', async (command) => {
    const help = await runCli(['help', command], dir.path);
    const own = await runCli([command, '--help'], dir.path);
    expect(own.code).toBe(0);
    expect(help).toEqual(own);
    expect(help.stdout).toMatch(new RegExp(`^usage: switchboard ${command}`));
  });

  it('help of an unknown command exits 2 naming it; help alone is the overview', async () => {
    const r = await runCli(['help', 'bogus'], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^switchboard: unknown command "bogus"\n/);
    expect((await runCli(['help'], dir.path)).stdout).toMatch(/^switchboard — a self-hosted MCP hub\n/);
  });
});
