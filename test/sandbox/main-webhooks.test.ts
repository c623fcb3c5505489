import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT, api, link } from './harness.js';
import { startReceiver, type Receiver } from './receiver.js';

/** Built by `npm test`'s pretest step: the process runs from dist, as a user runs it. */
const MAIN = resolve(import.meta.dirname, '../../dist/servers/sandbox/main.js');
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('sandbox main.js webhook flags', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let r: Receiver;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-main-'));
    r = await startReceiver();
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[], env: Record<string, string>): ChildProcess {
    const base = ['--port', '0', '--db', join(dir, 'sb.db'), '--client-id', CLIENT.id, '--redirect-uri', CLIENT.redirectUris[0]!];
    child = spawn(process.execPath, [MAIN, ...base, ...args], {
      env: { PATH: process.env['PATH'] ?? '', SANDBOX_CLIENT_SECRET: CLIENT.secret, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return child;
  }

  async function exitOf(p: ChildProcess): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(p, 'exit')) as [number];
    return { code, stderr };
  }

  it('delivers to --webhook-url signed with SANDBOX_WEBHOOK_SECRET, and takes a drop share at run time', async () => {
    const p = run(['--webhook-url', r.url, '--drop', '0'], { SANDBOX_WEBHOOK_SECRET: SECRET });
    const [line] = (await once(createInterface({ input: p.stdout! }), 'line')) as [string];
    const ready = JSON.parse(line) as { issuer: string };
    const alice = (await link(ready, 'alice')).access_token;
    const create = async (title: string): Promise<string> => ((await (await api(ready, 'POST', '/tickets', alice, { title })).json()) as { id: string }).id;

    const first = await create('one');
    await expect.poll(() => r.received.length).toBe(1);
    // The real clock on both sides: the library's own ±5 minute window applies.
    expect(new Webhook(SECRET).verify(r.received[0]!.body, r.received[0]!.headers)).toMatchObject({ type: 'ticket.created', data: { ticket: { id: first } } });

    const drop = (share: number) =>
      fetch(`${ready.issuer}/admin/webhooks/drop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}` },
        body: JSON.stringify({ share }),
      });
    expect((await drop(1)).status).toBe(200);
    await create('dropped');
    expect((await drop(0)).status).toBe(200);
    const third = await create('three');
    await expect.poll(() => r.received.length).toBe(2);
    expect(r.events().map((e) => e.data.ticket.id)).toEqual([first, third]);
    // The feed has all three all the same.
    expect(((await (await api(ready, 'GET', '/events', alice)).json()) as { events: unknown[] }).events).toHaveLength(3);
  });

  it.each([
    [['--webhook-url', 'http://127.0.0.1:9/hook'], {}, 'set SANDBOX_WEBHOOK_SECRET (or pass --webhook-secret) with --webhook-url'],
    [['--webhook-url', 'http://127.0.0.1:9/hook', '--webhook-secret', 'whsec_c2hvcnQ='], {}, 'the key of a webhook secret is 24 to 64 bytes'],
    [['--drop', '1.5'], {}, 'Too big: expected number to be <=1'],
    [['--drop-seed', 'x'], {}, 'expected number, received NaN'],
  ])('exits 2 with a message for %j', async (args, env, message) => {
    const { code, stderr } = await exitOf(run(args, env));
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});
