/**
 * `switchboard.config.json` in the working directory as a link whose target is missing (a dotfiles
 * checkout not mounted yet) was taken for no config at all: the command ran on the embedded
 * defaults and made a store in the per-user data dir. It is an error naming the link and its target.
 */
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from '../cli/run-env.js';

describe('a switchboard.config.json link to nothing', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('stops the command (exit 1) naming the link and its target, and makes no store', async () => {
    dir = tmpDir('switchboard-dangling-');
    const link = join(dir.path, 'switchboard.config.json');
    const target = join(dir.path, 'dotfiles', 'switchboard.jsonc');
    symlinkSync(target, link);
    const xdg = join(dir.path, 'xdg');
    const r = await runCliEnv(['tokens', 'create', '--user', 'alice'], dir.path, { XDG_DATA_HOME: xdg });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain(`error (config_not_found): config file ${link} is a link to ${target}, which does not exist`);
    expect(existsSync(join(xdg, 'switchboard'))).toBe(false);
  });
});
