/**
 * `doctor` says when the data dir's secrets are open to other users of the machine: a master key
 * written by hand (`echo KEY > master.key`) or restored from a copy is 0644 under a usual umask,
 * and the hub read it as it was while doctor said "ok". Only what others can reach counts: a
 * 0700 folder keeps them out whatever its files' modes.
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe.skipIf(process.platform === 'win32')('doctor and the modes of the data dir', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('fails naming a master key others can read in a folder they can enter, with the chmod; passes once fixed or the folder is closed', async () => {
    dir = tmpDir('switchboard-doctor-modes-');
    const data = join(dir.path, 'data');
    // Port 1: nothing listens there, so doctor finds no hub, which is fine.
    const cli = (...args: string[]) => runCli([...args, '--data', data, '--port', '1'], dir!.path);
    expect((await cli('tokens', 'create', '--user', 'alice')).code).toBe(0);
    chmodSync(data, 0o755);
    expect((await cli('doctor')).code).toBe(0);

    chmodSync(join(data, 'master.key'), 0o644);
    const open = await cli('doctor');
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(
      `FAIL data dir: master.key (0644) can be read or written by other users of this machine; the hub makes them 0600: chmod 600 ${join(data, 'master.key')}`,
    );
    expect(open.stdout).toBe('doctor: 1 problem(s) found\n');

    chmodSync(data, 0o700);
    expect((await cli('doctor')).code).toBe(0);
    chmodSync(data, 0o755);
    chmodSync(join(data, 'master.key'), 0o600);
    const fixed = await cli('doctor');
    expect(fixed.code).toBe(0);
    expect(fixed.stderr).not.toContain('other users');
  });
});
