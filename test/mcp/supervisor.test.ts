import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { STABLE_AFTER_MS, restartDelay } from '../../src/mcp/downstream/backoff.js';
import type { SourceStatus } from '../../src/mcp/source.js';
import { FIXTURE, eventually, fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

interface ProcInfo {
  pid: number;
  ppid: number;
  /** R, S, D, Z (zombie), … from /proc/PID/stat. */
  state: string;
  cmdline: string;
  environ: string;
}

/** Every process this user can see, from /proc. Processes that exit while being read are skipped. */
function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name is in parentheses and may itself contain spaces or parentheses.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let environ = '';
      try {
        environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      } catch {
        // Another user's process: its environment is not ours to read, and it is not ours either.
      }
      out.push({ pid: Number(entry), ppid: Number(ppid), state: state ?? '?', cmdline, environ });
    } catch {
      // Exited between readdir and read.
    }
  }
  return out;
}

/** Processes started for this test: children of this process, or carrying the run's marker. */
function ours(marker: string): ProcInfo[] {
  return processes().filter((p) => p.pid !== process.pid && (p.ppid === process.pid || p.environ.includes(marker)));
}

async function connect(h: RunningHub): Promise<Client> {
  const client = new Client({ name: 'supervisor-test', version: '1' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
  return client;
}

const textContent = z.array(z.object({ type: z.string(), text: z.string().optional() }));

function textOf(result: { content?: unknown }): string {
  return textContent
    .parse(result.content)
    .map((c) => c.text ?? '')
    .join('\n');
}

async function pidOf(client: Client): Promise<number> {
  const result = await client.callTool({ name: 'fx__pid', arguments: {} });
  expect(result.isError).toBeFalsy();
  return Number(textOf(result));
}

function status(h: RunningHub, name: string): SourceStatus {
  const source = h.hub.catalog.source(name);
  if (!source) throw new Error(`no source ${name}`);
  return source.status();
}

const readyzBody = z.object({
  status: z.string(),
  sources: z.record(z.string(), z.object({ kind: z.string(), state: z.string(), restarts: z.number(), detail: z.string().optional() })),
});

async function readyz(h: RunningHub): Promise<{ httpStatus: number; body: z.infer<typeof readyzBody> }> {
  const res = await fetch(new URL('/readyz', h.url));
  return { httpStatus: res.status, body: readyzBody.parse(await res.json()) };
}

function isAlive(pid: number): boolean {
  try {
    // A zombie keeps its /proc entry until reaped, so its state decides.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('restart backoff', () => {
  it('doubles from the base up to the cap, with at most 20 % jitter taken off', () => {
    const none = () => 0;
    expect([0, 1, 2, 3].map((n) => restartDelay(n, { baseMs: 100, random: none }))).toEqual([100, 200, 400, 800]);
    expect(restartDelay(30, { baseMs: 100, capMs: 5000, random: none })).toBe(5000);
    expect(restartDelay(0, { baseMs: 100, random: () => 1 })).toBe(80);
    expect(restartDelay(0, { random: none })).toBe(250);
    expect(restartDelay(1000, { random: none })).toBe(30_000);
  });
});

describe('supervised stdio downstream', () => {
  it('turns a crash mid-call into an isError result naming the server, then restarts it', async () => {
    const h = await startHub({ mcpServers: { fx: fixtureStdio() } }, { restartBaseMs: 20 });
    try {
      const client = await connect(h);
      const before = await pidOf(client);

      const crashed = await client.callTool({ name: 'fx__crash', arguments: {} });
      expect(crashed.isError).toBe(true);
      expect(textOf(crashed)).toMatch(/^fx: /);
      expect(textOf(crashed)).toContain('exit code 3');

      const ready = await eventually(async () => {
        const r = await readyz(h);
        return r.body.sources['fx']?.state === 'ready' ? r : undefined;
      });
      expect(ready.httpStatus).toBe(200);
      expect(ready.body.status).toBe('ready');
      expect(ready.body.sources['fx']).toMatchObject({ state: 'ready', restarts: 1 });

      const after = await pidOf(client);
      expect(after).not.toBe(before);
      expect(isAlive(before)).toBe(false);
      expect(isAlive(after)).toBe(true);
      // The restarted server serves calls as before.
      const sum = await client.callTool({ name: 'fx__add', arguments: { a: 1, b: 2 } });
      expect(sum.structuredContent).toEqual({ sum: 3 });
      await client.close();
    } finally {
      await h.stop();
    }
  });

  it('backs off longer after each crash of a connection that never became stable', async () => {
    const base = 300;
    const h = await startHub({ mcpServers: { fx: fixtureStdio() } }, { restartBaseMs: base });
    try {
      const client = await connect(h);
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        await eventually(() => {
          const st = status(h, 'fx');
          return st.state === 'ready' && st.restarts === i;
        });
        const crashed = await client.callTool({ name: 'fx__crash', arguments: {} });
        expect(crashed.isError).toBe(true);
        // The source is marked restarting before the failed call is answered.
        const st = status(h, 'fx');
        expect(st.state).toBe('restarting');
        const delay = Number(/restarting in (\d+) ms/.exec(st.detail ?? '')?.[1]);
        expect(st.detail).toContain('exit code 3');
        delays.push(delay);
      }
      // base·2ⁿ less up to 20 % jitter: 240–300, 480–600, 960–1200 ms.
      delays.forEach((d, n) => {
        expect(d).toBeGreaterThanOrEqual(base * 2 ** n * 0.8);
        expect(d).toBeLessThanOrEqual(base * 2 ** n);
      });
      await client.close();
    } finally {
      await h.stop();
    }
  });

  it('leaves no child or zombie behind after 100 crash/restart cycles and stop', { timeout: 300_000 }, async () => {
    const run = randomUUID();
    const marker = `SUPERVISOR_RUN=${run}`;
    const baseline = new Set(ours(marker).map((p) => p.pid));
    // Each crash comes after the connection counted as stable (the injected clock moves past
    // STABLE_AFTER_MS), so the backoff restarts from its tiny base instead of growing to 30 s.
    const clock = manualClock(Date.now());
    const h = await startHub({ mcpServers: { fx: fixtureStdio({ SUPERVISOR_RUN: run }) } }, { restartBaseMs: 2, clock });
    const pids = new Set<number>();
    try {
      const client = await connect(h);
      const CYCLES = 100;
      for (let i = 0; i < CYCLES; i++) {
        await eventually(() => {
          const st = status(h, 'fx');
          return st.state === 'ready' && st.restarts === i;
        }, 20_000);
        pids.add(await pidOf(client));
        clock.advance(STABLE_AFTER_MS);
        const crashed = await client.callTool({ name: 'fx__crash', arguments: {} });
        expect(crashed.isError, `cycle ${i}`).toBe(true);
        expect(textOf(crashed)).toMatch(/^fx: /);
      }
      await eventually(() => {
        const st = status(h, 'fx');
        return st.state === 'ready' && st.restarts === CYCLES;
      }, 20_000);
      pids.add(await pidOf(client));
      expect(pids.size).toBe(CYCLES + 1);

      // The scan sees the one live server, so finding nothing after stop means something.
      const live = ours(marker).filter((p) => !baseline.has(p.pid));
      expect(live.map((p) => p.pid)).toEqual([[...pids].at(-1)]);
      expect(live[0]?.cmdline).toContain(FIXTURE);
      await client.close();
    } finally {
      await h.stop();
    }

    const left = ours(marker).filter((p) => !baseline.has(p.pid));
    expect(left, JSON.stringify(left.map(({ pid, ppid, state, cmdline }) => ({ pid, ppid, state, cmdline })))).toEqual([]);
    expect(processes().filter((p) => p.ppid === process.pid && p.state === 'Z')).toEqual([]);
    for (const pid of pids) expect(isAlive(pid), `server ${pid}`).toBe(false);
  });

  it('never shows a value of a server’s env that its stderr printed: /readyz and the source status say [redacted]', async () => {
    const secret = 'ENVSECRET_3f9a';
    const h = await startHub(
      {
        mcpServers: {
          leaky: {
            command: process.execPath,
            args: ['-e', "console.error('bad key: ' + process.env.API_KEY); process.exit(3)"],
            env: { API_KEY: secret, LEVEL: '1' },
          },
        },
      },
      { restartBaseMs: 50 },
    );
    try {
      const detail = await eventually(() => status(h, 'leaky').detail?.includes('exit code 3') && status(h, 'leaky').detail);
      expect(detail).toContain('bad key: [redacted]');
      expect(detail).not.toContain(secret);
      expect(JSON.stringify((await readyz(h)).body)).not.toContain(secret);
    } finally {
      await h.stop();
    }
  });

  it('keeps the hub up and reports a downstream whose command does not exist', async () => {
    const h = await startHub(
      { mcpServers: { ghost: { command: '/nonexistent/switchboard-test-no-such-command', args: ['--stdio'] }, fx: fixtureStdio() } },
      { restartBaseMs: 50 },
    );
    try {
      const r = await readyz(h);
      expect(r.httpStatus).toBe(200);
      expect(r.body.status).toBe('degraded');
      expect(r.body.sources['fx']).toMatchObject({ state: 'ready' });
      const ghost = r.body.sources['ghost'];
      expect(ghost?.state).toBe('restarting');
      expect(ghost?.detail).toContain('ENOENT');
      expect(ghost?.detail).toContain('/nonexistent/switchboard-test-no-such-command');

      expect((await fetch(new URL('/healthz', h.url))).status).toBe(200);
      const client = await connect(h);
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toContain('fx__echo');
      expect(names.filter((n) => n.startsWith('ghost__'))).toEqual([]);
      const echoed = await client.callTool({ name: 'fx__echo', arguments: { text: 'hi' } });
      expect(echoed.isError).toBeFalsy();
      expect(textOf(echoed)).toBe('hi');
      // It keeps being retried in the background, and stays reported while it fails.
      await eventually(() => status(h, 'ghost').restarts >= 2);
      expect((await readyz(h)).body.sources['ghost']?.state).toBe('restarting');
      await client.close();
    } finally {
      await h.stop();
    }
  });

  it('ends a call that outlives timeoutMs with an isError result saying it timed out', async () => {
    const h = await startHub({ mcpServers: { fx: fixtureStdio({}, { timeoutMs: 300 }) } });
    try {
      const client = await connect(h);
      const started = performance.now();
      const result = await client.callTool({ name: 'fx__slow', arguments: { ms: 5000, id: 'late' } });
      const elapsed = performance.now() - started;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^fx: /);
      expect(textOf(result)).toContain('timed out after 300 ms');
      expect(elapsed).toBeLessThan(4000);
      // The downstream was told to stop working on it, and the server itself is fine.
      await eventually(async () => {
        const ids = await client.callTool({ name: 'fx__cancelled_ids', arguments: {} });
        return z
          .array(z.string())
          .parse(JSON.parse(textOf(ids)))
          .includes('late');
      });
      expect(status(h, 'fx')).toMatchObject({ state: 'ready', restarts: 0 });
      await client.close();
    } finally {
      await h.stop();
    }
  });
});
