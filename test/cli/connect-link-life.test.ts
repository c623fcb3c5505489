import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCli, stopCli, type RunningCli } from '../helpers/cli-process.js';
import { eventually, tmpDir } from '../helpers/hub.js';

const CLOCK = pathToFileURL(join(import.meta.dirname, 'stepped-clock.mjs')).href;
const STEP_S = 250;
const CUT = 'the link expires after 15 min, and a sign-in begun from it must end within 10 min';

/** `switchboard <args>` with its Date.now moved on STEP_S by each SIGUSR2. */
function startStepped(args: string[], cwd: string): RunningCli {
  return startCli(args, cwd, { nodeFlags: ['--import', CLOCK], env: { SWITCHBOARD_TEST_CLOCK_STEP_MS: String(STEP_S * 1000) } });
}

/** The most seconds the command has said it waited ("waiting for … linked… N s", one line per half minute off a terminal). */
function waited(r: RunningCli): number {
  return Math.max(-1, ...[...r.stderr().matchAll(/waiting for sandbox to be linked… (\d+) s/g)].map((m) => Number(m[1])));
}

/** Moves the command's clock on one step and waits until its loop has said so. */
async function step(r: RunningCli, n: number): Promise<void> {
  r.child.kill('SIGUSR2');
  await eventually(() => waited(r) >= n * STEP_S || r.child.exitCode !== null);
}

describe('connect waits no longer than its link can link an account', () => {
  let dir: ReturnType<typeof tmpDir>;
  let connect: RunningCli | undefined;
  // A held loopback port that resets every connection: no hub answers, the command still prints its link.
  let silent: Server;
  let port: number;

  beforeEach(async () => {
    dir = tmpDir('switchboard-connect-life-');
    silent = createServer((socket) => socket.resetAndDestroy());
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    port = (silent.address() as AddressInfo).port;
  });
  afterEach(async () => {
    await stopCli(connect);
    connect = undefined;
    await new Promise((res) => silent.close(res));
    dir.remove();
  });

  const run = (extra: string[]) =>
    startStepped(['connect', 'sandbox', '--user', 'alice', '--data', join(dir.path, 'data'), '--port', String(port), ...extra], dir.path);

  it('--timeout 3600 waits 1500 s, says so before it waits, and gives up then naming why', async () => {
    connect = run(['--timeout', '3600']);
    await eventually(() => waited(connect!) >= 0, 20_000);
    expect(connect.stdout()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=\S+\n$/);
    expect(connect.stderr()).toContain(`Note: waiting at most 1500 s, not 3600 s: ${CUT}.\n`);
    // 1250 s and a little: still waiting, for the link can still be used.
    for (let n = 1; n <= 5; n++) await step(connect, n);
    expect(connect.child.exitCode).toBeNull();
    // Past 1500 s: it stops, where it waited on until 3600 s.
    connect.child.kill('SIGUSR2');
    expect(await connect.exit).toBe(1);
    expect(connect.stderr()).toContain(`not linked within 1500 s (${CUT}); run the command again for a new link\n`);
    expect(connect.stdout()).not.toContain('linked:');
  });

  it('without --timeout it waits as long as a sign-in begun from the link can end (1500 s), past the link’s own 900 s', async () => {
    connect = run([]);
    await eventually(() => waited(connect!) >= 0, 20_000);
    // 1000 s and a little: the link has expired, but a sign-in begun from it at 899 s may still land.
    for (let n = 1; n <= 4; n++) await step(connect, n);
    expect(connect.child.exitCode).toBeNull();
    await step(connect, 5);
    expect(connect.child.exitCode).toBeNull();
    connect.child.kill('SIGUSR2');
    expect(await connect.exit).toBe(1);
    expect(connect.stderr()).toContain('not linked within 1500 s; run the command again for a new link\n');
    expect(connect.stderr()).not.toContain('waiting at most');
  });

  it('a --timeout within the link’s life is kept as given, without the note', async () => {
    connect = run(['--timeout', '400']);
    await eventually(() => waited(connect!) >= 0, 20_000);
    await step(connect, 1);
    expect(connect.child.exitCode).toBeNull();
    connect.child.kill('SIGUSR2');
    expect(await connect.exit).toBe(1);
    expect(connect.stderr()).toContain('not linked within 400 s; run the command again for a new link\n');
    expect(connect.stderr()).not.toContain('waiting at most');
  });
});
