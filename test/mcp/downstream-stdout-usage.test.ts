import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopHub, type DesktopHub } from '../helpers/desktop-stdio.js';
import { eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server started with wrong arguments often prints its usage on stdout, not stderr, and exits
 * (Python's argparse prints `--help` there; many CLIs their usage). stdout is read as JSON-RPC, and
 * what is not is skipped: the failure said only the exit code. It is kept as stderr is and shown
 * when the process said nothing on stderr.
 */
describe('a downstream that says why it quits on stdout only', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let hub: DesktopHub | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('is shown failing with what it printed there', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(script, "console.log('usage: server --root DIR');\nprocess.exitCode = 2;\n");
    const h = await desktopHub(dir.path, { mcpServers: { keyed: { command: process.execPath, args: [script] } } });
    hub = h;
    const about = () => h.about('keyed');
    await eventually(async () => about().length >= 2, 10_000, 50);
    for (const line of about().slice(0, 2)) {
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 2; stdout: usage: server --root DIR' });
    }
  });
});
