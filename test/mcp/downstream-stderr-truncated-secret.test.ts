import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopHub, type DesktopHub } from '../helpers/desktop-stdio.js';
import { eventually, tmpDir } from '../helpers/hub.js';

const KEY = 'sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * A stderr line over 64 KiB is kept as its first bytes and "… (line truncated)". A key of the
 * server's env that straddles that cut was shown in part (its first characters are no match for
 * the redaction of the whole value): the part is cut too.
 */
describe('a downstream stderr line truncated inside a secret', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  let hub: DesktopHub | undefined;
  afterEach(async () => {
    await hub?.close();
    dir?.remove();
  });

  it('shows no part of the secret in the log', async () => {
    dir = tmpDir();
    const script = join(dir.path, 'dumps-env.js');
    // The key starts 1004 bytes in: the kept head (1024 bytes) ends 20 characters into it.
    writeFileSync(script, "process.stderr.write('x'.repeat(1000) + 'key=' + process.env.API_KEY + ' ' + 'y'.repeat(70000) + '\\n');\nprocess.exitCode = 1;\n");
    const entry = { command: process.execPath, args: [script], env: { API_KEY: KEY } };
    const h = await desktopHub(dir.path, { logLevel: 'debug', mcpServers: { dumps: entry } });
    hub = h;
    await eventually(async () => h.log().includes('downstream server failed to start'), 10_000, 50);
    expect(h.log()).not.toContain(KEY.slice(0, 8));
    expect(h.log()).toContain('key=… (line truncated)');
  });
});
