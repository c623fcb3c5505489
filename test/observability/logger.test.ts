import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, unredacted } from '../../src/observability/logger.js';
import { eventually, tmpDir } from '../helpers/hub.js';

/** The compiled logger, as a hub process loads it. */
const LOGGER = join(import.meta.dirname, '../../dist/src/observability/logger.js');

/** The file's log lines, parsed. */
function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the logger on a file descriptor', () => {
  const fds: number[] = [];
  const dirs: Array<{ remove: () => void }> = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) closeSync(fd);
    for (const d of dirs.splice(0)) d.remove();
  });

  function open(): { file: string; fd: number } {
    const dir = tmpDir('logger-');
    dirs.push(dir);
    const file = join(dir.path, 'log.jsonl');
    const fd = openSync(file, 'a');
    fds.push(fd);
    return { file, fd };
  }

  it('writes a lone line within its flush interval, with secrets redacted', async () => {
    const { file, fd } = open();
    const log = createLogger({ level: 'info', destination: fd });
    log.info({ agent: 'a', apiKey: 'sk-secret-1', headers: { authorization: 'Bearer t' } }, 'agent answered');
    const [line] = await eventually(() => (lines(file).length === 1 ? lines(file) : undefined), 5_000);
    expect(line).toMatchObject({ msg: 'agent answered', agent: 'a', apiKey: '[redacted]', headers: { authorization: '[redacted]' } });
    expect(readFileSync(file, 'utf8')).not.toContain('sk-secret-1');
  });

  it("writes an unredacted child's hot line as given, while its parent keeps redacting", async () => {
    const { file, fd } = open();
    const log = createLogger({ level: 'info', destination: fd });
    const hot = unredacted(log);
    hot.info({ agent: 'a', callId: 'c-1', ms: 51, usage: { inputTokens: 3 } }, 'agent answered');
    log.info({ agent: 'a', apiKey: 'sk-secret-2' }, 'agent gave no answer');
    const got = await eventually(() => (lines(file).length === 2 ? lines(file) : undefined), 5_000);
    expect(got[0]).toMatchObject({ msg: 'agent answered', name: 'switchboard', agent: 'a', callId: 'c-1', ms: 51, usage: { inputTokens: 3 } });
    expect(got[1]).toMatchObject({ msg: 'agent gave no answer', apiKey: '[redacted]' });
    expect(readFileSync(file, 'utf8')).not.toContain('sk-secret-2');
  });

  it('writes a burst of lines complete and in order', async () => {
    const { file, fd } = open();
    const log = createLogger({ level: 'info', destination: fd });
    for (let n = 0; n < 500; n++) log.info({ n }, 'line');
    const all = await eventually(() => (lines(file).length === 500 ? lines(file) : undefined), 5_000);
    expect(all.map((l) => l['n'])).toEqual(Array.from({ length: 500 }, (_, n) => n));
  });

  // A line logged just before the process exits must not wait for a flush that never comes.
  it.each([
    ['process.exit', 'process.exit(3)'],
    ['an uncaught exception', "setImmediate(() => { throw new Error('boom') })"],
  ])('writes the last lines before %s', async (_what, ending) => {
    const script = `import { createLogger } from ${JSON.stringify(LOGGER)}; const log = createLogger({ destination: 2 }); for (let n = 0; n < 3; n++) log.info({ n }, 'last words'); ${ending};`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    await new Promise((r) => child.once('close', r));
    expect(err.split('\n').filter((l) => l.includes('"last words"'))).toHaveLength(3);
  });

  // A reader of stderr that has gone (a desktop client that quit) must not keep the hub from
  // exiting: the write fails with EPIPE and the lines are dropped, not retried forever.
  it('exits at once when its stderr reader has gone', async () => {
    const script = `import { createLogger } from ${JSON.stringify(LOGGER)}; const log = createLogger({ destination: 2 }); process.stdout.write('ready\\n'); process.stdin.once('data', () => { log.info('shutting down'); process.exit(0); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise((r) => child.stdout.once('data', r));
    child.stderr.destroy();
    const started = Date.now();
    child.stdin.write('go\n');
    const exit = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    expect(exit).toBe(0);
    // Generous for a loaded machine; the failure mode was never exiting at all.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
