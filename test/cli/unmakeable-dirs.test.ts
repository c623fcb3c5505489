/**
 * A folder the CLI must make under a parent that exists but cannot hold folders (`/proc`, some
 * FUSE mounts) fails at once naming the path: Node's recursive mkdir retries there for ever, and
 * `init --config /proc/x/c.json` or a per-user data dir under an XDG_DATA_HOME in /proc spun at
 * full CPU without a word.
 */
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

const UNDER_PROC = '/proc/switchboard-no-such';

describe.skipIf(!existsSync('/proc/self'))('folders the CLI cannot make', { timeout: 30_000 }, () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('switchboard-unmakeable-');
  });
  afterEach(() => dir.remove());

  it('init --config under /proc exits 1 naming the file, instead of hanging', async () => {
    const r = await runCliEnv(['init', '--config', `${UNDER_PROC}/switchboard.config.json`], dir.path, {});
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain(`switchboard: error (config_invalid): cannot write the config file ${UNDER_PROC}/switchboard.config.json`);
    expect(existsSync(UNDER_PROC)).toBe(false);
  });

  it('a per-user data dir under an XDG_DATA_HOME in /proc fails with store_failed naming it, instead of hanging', async () => {
    const r = await runCliEnv(['tokens', 'create', '--user', 'alice'], dir.path, { XDG_DATA_HOME: UNDER_PROC });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain(`switchboard: error (store_failed): cannot make the data dir ${UNDER_PROC}/switchboard:`);
    expect(r.stderr).toContain('set XDG_DATA_HOME, dataDir or --data');
  });
});
