import { afterEach, describe, expect, it } from 'vitest';
import { localIdentity } from '../../src/identity/identity.js';
import { eventually, FIXTURE, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

/**
 * A server that misses its startupTimeoutMs on a start with no cached list leaves the first lists
 * without its tools: a client that lists once per session will not see them, so the hub says so.
 */
describe('a downstream slower than its startupTimeoutMs', () => {
  let hub: RunningHub | undefined;
  afterEach(async () => hub?.stop());

  it('is named in a warning, and its tools follow once it is ready', async () => {
    const lines: string[] = [];
    // The fixture starts after 1.5 s; the first list waits 200 ms for it.
    const boot = 'setTimeout(() => import(process.argv[1]), 1500)';
    hub = await startHub(
      { mcpServers: { slow: { command: process.execPath, args: ['-e', boot, FIXTURE, '--stdio'], startupTimeoutMs: 200 } } },
      { log: capturedLogger(lines, 'warn') },
    );
    const warning = lines.map((l) => JSON.parse(l) as { source?: string; startupTimeoutMs?: number; msg: string }).find((l) => l.source === 'slow');
    expect(warning).toMatchObject({ startupTimeoutMs: 200, msg: expect.stringContaining('not ready within startupTimeoutMs') });
    // The hub's start waits for a server up to its startupTimeoutMs only: the slow one is listed once it is ready.
    await eventually(async () => (await hub!.hub.dispatcher.listTools(localIdentity(), undefined)).tools.some((t) => t.name === 'slow__echo') || undefined);
  });

  it('one that never answers its handshake does not hold the hub in starting: /readyz is degraded, naming it, and the others serve', async () => {
    // Spawned, then silent: it never answers initialize (the connect timeout is 30 s).
    hub = await startHub({
      mcpServers: {
        stuck: { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], startupTimeoutMs: 200 },
        good: { command: process.execPath, args: [FIXTURE, '--stdio'] },
      },
    });
    const r = await fetch(hub.url.replace(/\/mcp$/, '/readyz'));
    const body = (await r.json()) as { status: string; sources?: Record<string, { state: string }> };
    expect({ status: r.status, body: body.status, stuck: body.sources?.['stuck']?.state, good: body.sources?.['good']?.state }).toEqual({
      status: 200,
      body: 'degraded',
      stuck: 'starting',
      good: 'ready',
    });
    const listed = await hub.hub.dispatcher.listTools(localIdentity(), undefined);
    expect(listed.tools.some((t) => t.name === 'good__echo')).toBe(true);
  });
});
