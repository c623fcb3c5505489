import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT, api, link } from './harness.js';

/** Built by `npm test`'s pretest step: the process runs from dist, as a user runs it. */
const MAIN = resolve(import.meta.dirname, '../../dist/servers/sandbox/main.js');

describe('sandbox main.js', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sandbox-main-'));
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[], env: Record<string, string>): ChildProcess {
    child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return child;
  }

  it('serves a linkable provider on the port it prints, and stops on SIGTERM', async () => {
    const p = run(['--port', '0', '--base-path', '/sandbox', '--db', join(dir, 'sb.db'), '--client-id', CLIENT.id, '--redirect-uri', CLIENT.redirectUris[0]!], {
      SANDBOX_CLIENT_SECRET: CLIENT.secret,
    });
    const [line] = (await once(createInterface({ input: p.stdout! }), 'line')) as [string];
    const ready = JSON.parse(line) as { issuer: string; port: number };
    expect(ready.issuer).toBe(`http://127.0.0.1:${ready.port}/sandbox`);

    // RFC 8414 §3.1 path-inserted location at the host root, and the suffix location under the mount.
    for (const path of ['/.well-known/oauth-authorization-server/sandbox', '/sandbox/.well-known/oauth-authorization-server']) {
      const meta = (await (await fetch(`http://127.0.0.1:${ready.port}${path}`)).json()) as { issuer: string };
      expect(meta.issuer).toBe(ready.issuer);
    }
    const t = await link(ready, 'alice');
    expect((await api(ready, 'POST', '/tickets', t.access_token, { title: 'from the CLI' })).status).toBe(201);

    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
  });

  it('exits 2 with a message when no client secret is given', async () => {
    const p = run(['--port', '0', '--db', join(dir, 'sb.db')], {});
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(p, 'exit')) as [number];
    expect(code).toBe(2);
    expect(stderr).toContain('set SANDBOX_CLIENT_SECRET (or pass --client-secret)');
  });
});
