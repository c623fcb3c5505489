/**
 * A stdio downstream that hangs (its event loop stuck: the process lives, its stdin stays open,
 * nothing is answered) is found by the keepalive's pings as a frozen HTTP server is: after two
 * missed checks its process tree is ended and it is restarted as after a crash, the reason shown
 * in its status (what /readyz says), and a call it still held fails at once saying why rather
 * than at its timeout. The same holds for one identity's own process (`isolation: "user"`), and a
 * server that answers its checks is left alone. Checks every 300 ms here, where the hub's are 30 s
 * apart (a ping then waits 10 s).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localIdentity } from '../../src/identity/identity.js';
import type { CallContext, ToolSource } from '../../src/mcp/source.js';
import { eventually, fixtureStdio, ROOT, startHub, type RunningHub } from '../helpers/hub.js';

const KEEPALIVE_MS = 300;
/** Far beyond how long finding the hang takes: a call that fails before it was failed by the hub, not by its timeout. */
const TIMEOUT_MS = 20_000;
const freezing = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [join(ROOT, 'dist/test/fixtures/freezing-server.js')],
  timeoutMs: TIMEOUT_MS,
  ...extra,
});

describe('a stdio downstream that stops answering', () => {
  let hub: RunningHub;
  const source = (name: string): ToolSource => hub.hub.catalog.sources().find((s) => s.name === name)!;
  const ctx = (user: string): CallContext => ({ identity: localIdentity(user), signal: new AbortController().signal, notify: async () => {} });
  const pidOf = async (name: string, user = 'alice') => {
    const r = (await source(name).callTool('pid', {}, ctx(user))) as { content: { text: string }[] };
    return Number(r.content[0]!.text);
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const cut = {
    code: 'source_crashed',
    message: expect.stringContaining('(ended by the hub: not answering: a check got no answer in time); it is being restarted'),
  };

  beforeAll(async () => {
    hub = await startHub(
      { mcpServers: { fz: freezing(), own: freezing({ isolation: 'user' }), fine: fixtureStdio() } },
      // A restart due a while after the hang is found, so the state it is shown in can be read.
      { keepaliveMs: KEEPALIVE_MS, restartBaseMs: 1_000 },
    );
    await eventually(() => ['fz', 'own', 'fine'].every((n) => source(n).status().state === 'ready'));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('is shown restarting for not answering, its process ended and the call it held failed saying why', async () => {
    const before = await pidOf('fz');
    await expect(source('fz').callTool('freeze', {}, ctx('alice'))).rejects.toMatchObject(cut);
    expect(source('fz').status()).toMatchObject({
      state: 'restarting',
      restarts: 0,
      detail: expect.stringMatching(/^not answering: a check got no answer in time; restarting in \d+ ms$/),
    });
    expect(alive(before)).toBe(false);
    await eventually(() => source('fz').status().state === 'ready', 10_000);
    expect(source('fz').status().restarts).toBe(1);
    const after = await pidOf('fz');
    expect(after).not.toBe(before);
  });

  it('is restarted when it is one identity’s own process, the others’ left running', async () => {
    const [alices, bobs] = [await pidOf('own', 'alice'), await pidOf('own', 'bob')];
    await expect(source('own').callTool('freeze', {}, ctx('alice'))).rejects.toMatchObject(cut);
    expect(alive(alices)).toBe(false);
    const again = await pidOf('own', 'alice');
    expect(again).not.toBe(alices);
    expect(await pidOf('own', 'bob')).toBe(bobs);
  });

  it('is not mistaken for one that answers its checks, which is left alone', () => {
    // By now the checks have run every 300 ms for seconds.
    expect(source('fine').status()).toMatchObject({ state: 'ready', restarts: 0 });
  });
});
