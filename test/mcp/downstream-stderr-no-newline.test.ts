import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopHub, type DesktopHub } from '../helpers/desktop-stdio.js';
import { eventually, tmpDir } from '../helpers/hub.js';

/**
 * A server that writes why it cannot start without a final newline (`process.stderr.write`,
 * Python's `sys.stderr.write`, a shell's `printf`) and exits is named by that text: the end of its
 * stderr ends its last line, which was dropped as unfinished.
 */
describe('a downstream whose last stderr line has no newline', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let hub: DesktopHub | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('is shown failing with that line', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'needs-key.js');
    writeFileSync(script, "process.stderr.write('Error: API_KEY is not set');\nprocess.exitCode = 1;\n");
    const h = await desktopHub(dir.path, { mcpServers: { keyed: { command: process.execPath, args: [script] } } });
    hub = h;
    const about = () => h.about('keyed');
    await eventually(async () => about().length >= 2, 10_000, 50);
    for (const line of about().slice(0, 2)) {
      expect(line).toMatchObject({ msg: 'downstream server failed to start', detail: 'could not start: exit code 1; stderr: Error: API_KEY is not set' });
    }
  });
});
