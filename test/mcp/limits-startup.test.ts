import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, startHub, tmpDir } from '../helpers/hub.js';

const LIMITS_SERVER = join(ROOT, 'dist/test/fixtures/limits-server.js');
/** What a server that fails to start is shown as: its exit code and its first meaningful stderr lines, npm's chatter left out. */
const CAUSE =
  'could not start: exit code 7; stderr: Error: LIMITS_API_KEY is not set | at start (limits-server.js:1:1) | npm error A complete log of this run can be found in: /tmp/x.log';

const failing = { command: process.execPath, args: [LIMITS_SERVER], env: { LIMITS_FAIL_START: '1' } };

describe('a downstream that fails to start', () => {
  it('is shown with its exit code and first meaningful stderr lines', async () => {
    const h = await startHub({ mcpServers: { lim: failing } }, { restartBaseMs: 60_000 });
    try {
      const st = h.hub.catalog.source('lim')?.status();
      expect(st?.state).toBe('restarting');
      expect(st?.detail).toMatch(new RegExp(`^${escapeRegExp(CAUSE)}; restarting in \\d+ ms$`));
      const readyz = (await (await fetch(new URL('/readyz', h.url))).json()) as { sources: Record<string, { detail?: string }> };
      expect(readyz.sources['lim']?.detail).toBe(st?.detail);
    } finally {
      await h.stop();
    }
  });

  it('is reported by doctor without the restart plan of a supervisor doctor is not', async () => {
    const dir = tmpDir();
    try {
      const config = join(dir.path, 'switchboard.config.json');
      writeFileSync(config, JSON.stringify({ mcpServers: { lim: failing } }));
      const r = await runCli(['doctor', '--config', config, '--data', join(dir.path, 'data')], dir.path);
      expect(r.code).toBe(1);
      const line = r.stderr.split('\n').find((l) => l.startsWith('FAIL mcpServers.lim'));
      expect(line).toBe(`FAIL mcpServers.lim: ${CAUSE}`);
    } finally {
      dir.remove();
    }
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
