/**
 * A stdio server whose `cwd` cannot be used is reported by that folder, not as Node's
 * `spawn <command> ENOENT`, which blames a command that exists: in the source's status (what
 * /readyz, doctor and a refused call say), in the log, and by `switchboard doctor`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { DownstreamSource } from '../../src/mcp/downstream/source.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir = tmpDir();
afterEach(() => {
  dir.remove();
  dir = tmpDir();
});

/** Starts a source for a stdio server run in `cwd`; its status after the first attempt and the log's failure detail. */
async function firstAttempt(cwd: string): Promise<{ detail: string; logged: unknown }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const config = configSchema.parse({ integrations: {}, mcpServers: { s: { command: process.execPath, args: ['-e', '1'], cwd } } }).mcpServers['s']!;
  const source = new DownstreamSource({ name: 's', config, clock: systemClock, log: pino({ level: 'warn' }, sink), metrics: new HubMetrics() });
  try {
    await source.start();
    // The status adds the restart plan (`; restarting in 203 ms`), whose jitter is left out here.
    const detail = source.status().detail?.replace(/; restarting in \d+ ms$/, '') ?? '';
    return { detail, logged: lines.find((l) => l['msg'] === 'downstream server failed to start')?.['detail'] };
  } finally {
    await source.stop();
  }
}

describe('a stdio server whose working directory cannot be used', () => {
  it('is reported as a working directory that does not exist', async () => {
    const missing = join(dir.path, 'no-such-dir');
    const said = `could not start: the working directory ${missing} (cwd) does not exist`;
    expect(await firstAttempt(missing)).toEqual({ detail: said, logged: said });
  });

  it('is reported as a working directory that is not a directory', async () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, '');
    const said = `could not start: the working directory ${file} (cwd) is not a directory`;
    expect(await firstAttempt(file)).toEqual({ detail: said, logged: said });
  });

  it('is named by doctor', async () => {
    const missing = join(dir.path, 'elsewhere');
    const config = join(dir.path, 'config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { s: { command: process.execPath, args: ['-e', '1'], cwd: missing } } }));
    const r = await runCli(['doctor', '--config', config, '--data', join(dir.path, 'data')], dir.path);
    expect(r.stdout + r.stderr).toContain(`FAIL mcpServers.s: could not start: the working directory ${missing} (cwd) does not exist`);
  });
});
