/**
 * `doctor` on a data dir no hub has used yet still looks at the URL its first `serve` would take:
 * a hub on another data dir, or another program, answering there makes that `serve` stop at once,
 * and "everything looks right" hid it. A store that does not open is one problem, said once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tmpDir } from '../helpers/hub.js';
import { serveProcess, type Serving } from '../helpers/serve-process.js';
import { runCliEnv } from './run-env.js';

const report = z.object({ ok: z.boolean(), checks: z.array(z.object({ ok: z.boolean(), line: z.string() })) });

describe('doctor on a data dir with no store yet', () => {
  const dir = tmpDir();
  const running: Serving[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of running) {
      s.child.kill('SIGTERM');
      await s.exited;
    }
    for (const s of servers) s.close();
    dir.remove();
  });

  /** doctor --json with a config naming `port`, on a fresh data dir. */
  async function doctorOn(port: number, name: string) {
    const config = join(dir.path, `${name}.json`);
    writeFileSync(config, JSON.stringify({ server: { port } }));
    const r = await runCliEnv(['doctor', '--json', '--config', config, '--data', join(dir.path, `${name}-data`)], dir.path, {});
    return { code: r.code, out: report.parse(JSON.parse(r.stdout)) };
  }

  it('fails the http check when a hub on another data dir holds the port serve would take', { timeout: 60_000 }, async () => {
    const config = join(dir.path, 'other.json');
    writeFileSync(config, '{}');
    const otherData = join(dir.path, 'other-data');
    mkdirSync(otherData);
    const other = await serveProcess(config, otherData, 0);
    running.push(other);
    const { code, out } = await doctorOn(other.port, 'beside-hub');
    expect(out.checks).toContainEqual({
      ok: false,
      line: expect.stringMatching(/^http: http:\/\/127\.0\.0\.1:\d+ is a hub on another data dir \(.*other-data\)/),
    });
    expect(out.ok).toBe(false);
    expect(code).toBe(1);
  });

  it('fails it when another program answers there, and passes when nothing does', { timeout: 60_000 }, async () => {
    const plain = createServer((_req, res) => res.end('hello'));
    servers.push(plain);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const port = (plain.address() as AddressInfo).port;
    const taken = await doctorOn(port, 'beside-plain');
    expect(taken.out.checks).toContainEqual({ ok: false, line: expect.stringMatching(/^http: something other than a Switchboard hub answers at /) });
    expect(taken.code).toBe(1);
    plain.close();
    const free = await doctorOn(port, 'free');
    expect(free.out.checks).toContainEqual({ ok: true, line: expect.stringMatching(/^http: nothing answers at http:\/\/127\.0\.0\.1:\d+ yet/) });
    expect(free.code).toBe(0);
  });

  it('a store that does not open is one problem, not a second one for the vault that could not be read from it', { timeout: 30_000 }, async () => {
    const data = join(dir.path, 'garbage-data');
    mkdirSync(data);
    writeFileSync(join(data, 'switchboard.db'), 'not a database at all\n');
    const r = await runCliEnv(['doctor', '--json', '--data', data, '--port', '0'], dir.path, {});
    const out = report.parse(JSON.parse(r.stdout));
    const failed = out.checks.filter((c) => !c.ok).map((c) => c.line);
    expect(failed).toEqual([expect.stringMatching(/^database: sqlite: .*is not a SQLite database/)]);
    expect(r.code).toBe(1);
  });
});
