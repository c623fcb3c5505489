import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopHub, type DesktopHub } from '../helpers/desktop-stdio.js';
import { eventually, tmpDir } from '../helpers/hub.js';

/**
 * A stdio server that cannot start (a missing API key) is named in the hub's log by its exit code
 * and its first meaningful stderr lines, on its first attempt and every retry: not by the SDK's
 * account of the version probe the exit interrupted, nor by a bare "Connection closed".
 */
describe('the log of a downstream that fails to start', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let hub: DesktopHub | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('says its exit code and first stderr lines, on each retry', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(
      script,
      "console.error('');\nconsole.error('npm warn config production Use `--omit=dev` instead.');\nconsole.error('Error: API_KEY is not set');\nprocess.exit(1);\n",
    );
    const h = await desktopHub(dir.path, { mcpServers: { keyed: { command: process.execPath, args: [script] } } });
    hub = h;
    const about = () => h.about('keyed');
    // The first attempt and two restarts (250 ms, then 500 ms later).
    await eventually(async () => about().length >= 3, 10_000, 50);
    for (const line of about().slice(0, 3)) {
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 1; stderr: Error: API_KEY is not set' });
    }
    expect(h.log()).not.toContain('probe');
    expect(h.log()).not.toContain('Connection closed');
  });
});
