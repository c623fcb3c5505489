import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, ProtocolError } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLI, ROOT, eventually, tmpDir } from '../helpers/hub.js';

const LIMITS_SERVER = join(ROOT, 'dist/test/fixtures/limits-server.js');
const MiB = 1024 * 1024;
/** Small enough to cross cheaply in a test, large enough to be over the SDK's own 10 MiB buffer. */
const MAX = 16 * MiB;

const textContent = z.array(z.object({ type: z.literal('text'), text: z.string() }));
const readyzBody = z.object({ sources: z.record(z.string(), z.object({ state: z.string(), detail: z.string().optional() })) });

/** Resident memory of a process in MiB, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

describe('switchboard stdio: maxMessageBytes and downstream output caps', () => {
  let dir: ReturnType<typeof tmpDir>;
  let client: Client;
  let transport: StdioClientTransport;
  let hubPid: number;
  let port: number;
  const stderr: string[] = [];

  async function call(name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> {
    const r = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
    return {
      text: textContent
        .parse(r.content)
        .map((c) => c.text)
        .join(''),
      isError: r.isError === true,
    };
  }

  async function readyz(): Promise<z.infer<typeof readyzBody>> {
    return readyzBody.parse(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json());
  }

  beforeAll(async () => {
    dir = tmpDir();
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        maxMessageBytes: MAX,
        // The OS picks the HTTP port; the hub names it in its log line on stderr.
        server: { port: 0 },
        // Two servers: one breaks the limits, the other shows its calls are unaffected.
        mcpServers: { lim: { command: process.execPath, args: [LIMITS_SERVER] }, other: { command: process.execPath, args: [LIMITS_SERVER] } },
      }),
    );
    // The client's own read buffer must hold what the hub lets through (the SDK's default is 10 MiB).
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio', '--config', config, '--data', join(dir.path, 'data')],
      stderr: 'pipe',
      maxBufferSize: 4 * MAX,
    });
    transport.stderr?.on('data', (c: Buffer) => {
      stderr.push(c.toString());
      if (stderr.length > 200) stderr.shift();
    });
    client = new Client({ name: 'limits-test', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(transport);
    hubPid = transport.pid!;
    await eventually(
      async () => {
        const names = (await client.listTools()).tools.map((t) => t.name);
        return names.includes('lim__echo') && names.includes('other__echo');
      },
      20_000,
      50,
    );
    // HTTP starts a moment after stdio; /readyz is how the status of the downstream is read.
    port = await eventually(() => {
      const url = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/mcp","msg":"stdio hub also listening on HTTP"/.exec(stderr.join(''))?.[1];
      return url === undefined ? undefined : Number(url);
    }, 20_000);
    await eventually(
      () =>
        readyz().then(
          () => true,
          () => undefined,
        ),
      10_000,
      50,
    );
  });

  afterAll(async () => {
    await client?.close();
    dir?.remove();
  });

  it('passes a 12 MiB result (over the SDK default of 10 MiB) through to the client', async () => {
    const r = await call('lim__big', { bytes: 12 * MiB });
    expect(r).toEqual({ text: 'x'.repeat(12 * MiB), isError: false });
    // 12 MiB through two JSON hops takes seconds on a loaded 2-core machine.
  }, 90_000);

  it('accepts an 11 MiB input line, which silenced the face before', async () => {
    expect(await call('lim__length', { text: 'y'.repeat(11 * MiB) })).toEqual({ text: String(11 * MiB), isError: false });
  });

  it('answers an input line over maxMessageBytes with -32600 and keeps serving', async () => {
    const before = rssMiB(hubPid);
    const err = await client.callTool({ name: 'lim__echo', arguments: { text: 'z'.repeat(MAX + MiB) } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(-32600);
    expect((err as ProtocolError).message).toMatch(/exceeded maxMessageBytes \(16 MiB\)/);
    expect(await call('lim__echo', { text: 'still here' })).toEqual({ text: 'still here', isError: false });
    // The dropped line was never held whole: memory grows by far less than its 17 MiB twice over.
    expect(rssMiB(hubPid) - before).toBeLessThan(64);
  });

  it('keeps memory bounded when a downstream writes 256 MiB of stderr without a newline', async () => {
    const before = rssMiB(hubPid);
    const r = await call('lim__stderr_flood', { bytes: 256 * MiB });
    expect(r).toEqual({ text: `wrote ${256 * MiB} bytes to stderr`, isError: false });
    expect(rssMiB(hubPid) - before).toBeLessThan(100);
    expect(await call('lim__echo', { text: 'after stderr' })).toEqual({ text: 'after stderr', isError: false });
    expect((await readyz()).sources['lim']?.state).toBe('ready');
  });

  it('fails a result over maxMessageBytes at once, restarts the server and says why', async () => {
    const pidBefore = (await call('lim__pid', {})).text;
    const started = performance.now();
    const [big, other] = await Promise.all([call('lim__big', { bytes: MAX + MiB }), call('other__echo', { text: 'meanwhile' })]);
    // The hub stood in for the dropped response: a failure of the server's, said as a tool result naming it.
    expect(big).toEqual({ text: 'lim: tool big: the result was too large: 17 MiB exceeds maxMessageBytes (16 MiB)', isError: true });
    // Not the 60 s call timeout.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(other).toEqual({ text: 'meanwhile', isError: false });
    const detail = await eventually(async () => (await readyz()).sources['lim']?.detail, 10_000, 20);
    expect(detail).toMatch(/^exited \(ended by the hub: it wrote a message over maxMessageBytes \(16 MiB\) on stdout\); restarting in \d+ ms$/);
    const after = await eventually(
      async () => {
        const p = await call('lim__pid', {});
        return p.isError ? undefined : p.text;
      },
      15_000,
      100,
    );
    expect(after).not.toBe(pidBefore);
  });

  it('fails a call whose server writes stdout without a newline past the cap, and serves others', async () => {
    const started = performance.now();
    const [flood, other] = await Promise.all([call('lim__stdout_flood', { bytes: MAX + MiB }), call('other__echo', { text: 'meanwhile' })]);
    expect(other).toEqual({ text: 'meanwhile', isError: false });
    // No id could be read from the line, so the call learns of it when the server is ended.
    expect(flood).toEqual({
      text: 'lim: the server stopped during the call (ended by the hub: it wrote a message over maxMessageBytes (16 MiB) on stdout); it is being restarted',
      isError: true,
    });
    expect(performance.now() - started).toBeLessThan(10_000);
    const back = await eventually(
      async () => {
        const p = await call('lim__echo', { text: 'back' });
        return p.isError ? undefined : p;
      },
      15_000,
      100,
    );
    expect(back).toEqual({ text: 'back', isError: false });
    expect(rssMiB(hubPid)).toBeLessThan(600);
  });
});
