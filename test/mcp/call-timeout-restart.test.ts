/**
 * A call that finds its server restarting after a crash waits for the restart within the call's
 * own `timeoutMs`, and its request gets what the wait left of it, not a fresh timeout: the whole
 * call is bounded by the timeout configured. The hub's clock is injected and moved by the test
 * while the call waits (the wait itself is the real restart of the fixture's process), so what
 * the wait "took" is set exactly, without sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { localIdentity } from '../../src/identity/identity.js';
import type { CallContext, ToolSource } from '../../src/mcp/source.js';
import { eventually, fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

const TIMEOUT_MS = 5_000;

describe('a call that waits for its server’s restart', () => {
  const clock = manualClock(Date.now());
  let hub: RunningHub;
  let fx: ToolSource;

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { fx: fixtureStdio({}, { timeoutMs: TIMEOUT_MS }) } }, { restartBaseMs: 200, clock });
    fx = hub.hub.catalog.sources().find((s) => s.name === 'fx')!;
    await eventually(() => fx.status().state === 'ready');
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const ctx = (): CallContext => ({ identity: localIdentity('alice'), signal: new AbortController().signal, notify: async () => {} });
  const textOf = (r: unknown) => (r as { content: { text: string }[] }).content.map((c) => c.text).join('');

  /** Crashes the server and resolves while its restart is still due (the call made then waits for it). */
  async function crash(): Promise<void> {
    await eventually(() => fx.status().state === 'ready');
    await fx.callTool('crash', {}, ctx()).catch(() => undefined);
    await eventually(() => fx.status().state === 'restarting');
  }

  /** A call made now, with `waitMs` of its timeout passing (on the hub's clock) while it waits for the restart. */
  function callWhileRestarting(args: Record<string, unknown>, waitMs: number): Promise<unknown> {
    const call = fx.callTool('slow', args, ctx());
    // The call has taken its start time and begun to wait: the time the wait takes is this.
    clock.advance(waitMs);
    return call;
  }

  it('gets only what the wait left of its timeout for the request', async () => {
    await crash();
    // 4.8 s of 5 s spent waiting: a request of 3 s no longer fits (with a fresh 5 s it did).
    const call = callWhileRestarting({ ms: 3_000, id: 'too-late' }, TIMEOUT_MS - 200);
    await expect(call).rejects.toMatchObject({
      code: 'source_timeout',
      message: `fx: tool slow timed out after ${TIMEOUT_MS} ms (${TIMEOUT_MS - 200} ms of it waiting for the server to start)`,
    });
  });

  it('is not sent at all when the wait took the whole timeout', async () => {
    await crash();
    const call = callWhileRestarting({ ms: 0, id: 'never-sent' }, TIMEOUT_MS);
    await expect(call).rejects.toMatchObject({ code: 'source_timeout' });
    await eventually(() => fx.status().state === 'ready');
    expect(JSON.parse(textOf(await fx.callTool('started_ids', {}, ctx())))).not.toContain('never-sent');
  });

  it('is answered when what is left is enough', async () => {
    await crash();
    const call = callWhileRestarting({ ms: 0, id: 'in-time' }, 1_000);
    expect(textOf(await call)).toBe('finished');
  });
});
