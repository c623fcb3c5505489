import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { DownstreamSource } from '../../src/mcp/downstream/source.js';
import type { CallContext } from '../../src/mcp/source.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { bearerClient } from '../helpers/clients.js';
import { ROOT, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

/**
 * A stdio server's stderr often quotes the input that made it fail. On a process the hub shares
 * between identities (isolation "shared"), that input may be another user's: callers are told the
 * exit and that its stderr is in the hub's log, while /readyz, doctor and the log keep it whole.
 * A process of one identity's own (isolation "user") shows its caller its stderr as before.
 */
const SERVER = join(ROOT, 'dist/test/fixtures/stderr-crash-server.js');
const ALICE_DOC = 'ALICE-PRIVATE: salary 123456';

const textOf = (r: unknown): string =>
  z
    .object({ content: z.array(z.object({ text: z.string().optional() })) })
    .parse(r)
    .content.map((c) => c.text ?? '')
    .join('\n');

/** A logger whose lines the test reads (warn and up). */
function capturedLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

interface Setup {
  h: RunningHub;
  alice: Client;
  bob: Client;
  lines: Array<Record<string, unknown>>;
}

/** A hub with the crashing server; its first restart is due a minute after a crash (the restart window stays open). */
async function setup(isolation: 'shared' | 'user'): Promise<Setup> {
  const { log, lines } = capturedLog();
  const h = await startHub({ mcpServers: { crashy: { command: process.execPath, args: [SERVER], isolation } } }, { restartBaseMs: 60_000, log });
  const alice = await bearerClient(h.url, (await h.hub.tokens.create({ user: 'alice' })).token, 'alice');
  const bob = await bearerClient(h.url, (await h.hub.tokens.create({ user: 'bob' })).token, 'bob');
  return { h, alice, bob, lines };
}

/** Bob's slow call, once the server has told him it started (wrapped: an async function's result is never a promise). */
async function bobInFlight(bob: Client, ms: number): Promise<{ call: Promise<unknown> }> {
  let started!: () => void;
  const reached = new Promise<void>((r) => (started = r));
  const call = bob.callTool({ name: 'crashy__slow', arguments: { ms } }, { onprogress: () => started(), resetTimeoutOnProgress: false });
  await Promise.race([reached, call]);
  return { call };
}

describe('the stderr of a crashed stdio downstream', () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await s?.alice.close();
    await s?.bob.close();
    await s?.h.stop();
    s = undefined;
  });

  it('on a shared process: another user’s call cut by the exit, and a call during the restart, name the exit, not the stderr', async () => {
    s = await setup('shared');
    const { call: bobCall } = await bobInFlight(s.bob, 60_000);

    const crashed = await s.alice.callTool({ name: 'crashy__parse', arguments: { document: ALICE_DOC } });
    expect(crashed.isError).toBe(true);

    const cut = await bobCall;
    expect(cut).toMatchObject({ isError: true });
    expect(textOf(cut)).toBe("crashy: the server stopped during the call (exit code 1; its stderr is in the hub's log); it is being restarted");
    expect(textOf(cut)).not.toContain('ALICE-PRIVATE');

    const refused = await s.bob.callTool({ name: 'crashy__slow', arguments: { ms: 0 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^crashy is not available: exited \(exit code 1; its stderr is in the hub's log\); restarting in \d+ ms$/);

    // Operators still see it: the source's status (/readyz, doctor) and the warn-level log line.
    expect(s.h.hub.catalog.source('crashy')?.status().detail).toContain(`exited (exit code 1; stderr: fatal: cannot parse document: ${ALICE_DOC})`);
    const disconnected = s.lines.find((l) => l['msg'] === 'downstream server disconnected' && l['source'] === 'crashy');
    expect(disconnected?.['detail']).toBe(`exited (exit code 1; stderr: fatal: cannot parse document: ${ALICE_DOC})`);
  });

  it('on a process of the caller’s own (isolation "user"): the caller is shown its stderr, and another user’s call is untouched', async () => {
    s = await setup('user');
    const { call: bobCall } = await bobInFlight(s.bob, 200);

    const crashed = await s.alice.callTool({ name: 'crashy__parse', arguments: { document: ALICE_DOC } });
    expect(crashed.isError).toBe(true);
    expect(textOf(crashed)).toBe(
      `crashy: the server stopped during the call (exit code 1; stderr: fatal: cannot parse document: ${ALICE_DOC}); it is being restarted`,
    );

    const refused = await s.alice.callTool({ name: 'crashy__slow', arguments: { ms: 0 } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(
      /^crashy is not available: exited \(exit code 1; stderr: fatal: cannot parse document: ALICE-PRIVATE: salary 123456\); restarting in \d+ ms$/,
    );

    expect(textOf(await bobCall)).toBe('slow done');
  });
});

describe('the stderr a failed restart is reported with', () => {
  const dir = tmpDir();
  afterEach(() => rmSync(join(dir.path, 'hang'), { force: true }));

  it('is that process’s own, not an earlier one’s', async () => {
    const hang = join(dir.path, 'hang');
    const { log, lines } = capturedLog();
    const config = configSchema.parse({
      integrations: {},
      dataDir: dir.path,
      mcpServers: { crashy: { command: process.execPath, args: [SERVER], env: { STDERR_CRASH_HANG_FILE: hang } } },
    }).mcpServers['crashy'];
    if (!config) throw new Error('no config');
    const source = new DownstreamSource({
      name: 'crashy',
      config,
      clock: systemClock,
      log,
      metrics: new HubMetrics(),
      restartBaseMs: 1,
      connectTimeoutMs: 300,
    });
    try {
      await source.start();
      expect(source.status().state).toBe('ready');
      const ctx: CallContext = {
        identity: { tenant: 'default', user: 'alice', scopes: ['mcp'] },
        signal: new AbortController().signal,
        notify: async () => {},
      };
      await expect(source.callTool('parse', { document: ALICE_DOC }, ctx)).rejects.toThrow('exit code 1');
      expect(existsSync(hang)).toBe(true);
      // The restarted process never answers the handshake: its start fails with nothing on its stderr.
      while (!source.status().detail?.startsWith('could not connect')) await source.nextState();
      expect(source.status().detail).not.toContain('ALICE-PRIVATE');
      const failed = lines.find((l) => l['msg'] === 'downstream server failed to start');
      expect(failed?.['detail']).toMatch(/^could not connect: /);
      expect(failed?.['detail']).not.toContain('ALICE-PRIVATE');
    } finally {
      await source.stop();
      dir.remove();
    }
  });
});
