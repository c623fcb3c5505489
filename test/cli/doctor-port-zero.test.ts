/**
 * `doctor` on a data dir with a store and `server.port` 0 (the OS picks the port as the hub
 * listens; no publicUrl): the vault and integration checks failed as one problem ("vault/integrations:
 * server.port is 0 …"), since the integrations' definitions are built on the hub's URL, and the
 * check meant for port 0 was never reached. They pass, and the http line says what port 0 means.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli, tmpDir } from '../helpers/hub.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

describe('doctor with server.port 0', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('checks the vault and the integrations, and says the port is picked at start', { timeout: 60_000 }, async () => {
    dir = tmpDir('switchboard-doctor-port0-');
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'c.json');
    writeFileSync(config, JSON.stringify({ server: { port: 0 }, integrations: { sandbox: {} } }));
    expect((await runCli(['tokens', 'create', '--user', 'alice', '--data', data, '--config', config], dir.path)).code).toBe(0);
    for (const flags of [
      ['--config', config],
      ['--port', '0'],
    ]) {
      const r = await runCli(['doctor', '--json', '--data', data, ...flags], dir.path);
      const out = report.parse(JSON.parse(r.stdout));
      expect(out.checks.filter((c) => !c.ok)).toEqual([]);
      expect(out.checks.map((c) => c.line)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^vault: master key mk_\w+ from .*master\.key; all 1 stored data key\(s\) open$/),
          expect.stringMatching(/^integrations\.sandbox: \d+ tools, 0 connection\(s\)$/),
          'http: server.port is 0: a hub listens on the port the OS picks, and its links name that port',
        ]),
      );
      expect(r.code).toBe(0);
    }
  });
});
