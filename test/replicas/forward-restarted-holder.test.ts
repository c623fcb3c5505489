import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ForwardHarness, forwardHarness, goneAnswer, HOLDER, retry, taskGet } from './forward-harness.js';

/**
 * A holder killed and restarted under the same `server.internalUrl` (an orchestrator restarting a
 * container) leaves its row beating for up to 15 s, pointing at a new process that never held its
 * rounds or tasks. A forwarded request names the process it is meant for, so the new process
 * answers that it is not that one, and the sender answers as for a holder that is gone.
 */
const SELF = 'host-b/2/bbbbbbbb';
const NEW = 'host-a/1/cccccccc';

describe('a holder restarted under the same address', () => {
  let h: ForwardHarness;
  beforeEach(() => {
    h = forwardHarness();
  });
  afterEach(() => h.close());

  it('a request meant for another process is answered 421 where it lands; one meant for this process, or naming none, is served here', async () => {
    const c = await h.startReplica(NEW);
    const misdirected = await h.post(c, retry, { 'x-switchboard-forwarded': HOLDER });
    expect(misdirected.status).toBe(421);
    expect(await misdirected.json()).toMatchObject({ error: { message: 'the Switchboard process this request was sent to does not run here' } });
    expect(await (await h.post(c, retry, { 'x-switchboard-forwarded': NEW })).json()).toEqual({ servedHere: NEW });
    // A replica of an earlier version, naming no process.
    expect(await (await h.post(c, retry, { 'x-switchboard-forwarded': '1' })).json()).toEqual({ servedHere: NEW });
  });

  it('the retry is told at once that its process is no longer running, and the task record that it lost it', async () => {
    // The dead holder's row still beats, its address now served by the new process.
    const c = await h.startReplica(NEW);
    await h.holder.register({ id: HOLDER, url: c, startedAt: h.clock.now() });
    expect(await h.registry.lookup(HOLDER)).toEqual({ url: c, alive: true });
    const b = await h.startReplica(SELF);

    const res = await h.post(b, retry);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(goneAnswer());
    expect(h.goneTasks).toEqual([]);
    // Served here, from the record, once it says the task lost its holder.
    expect(await (await h.post(b, taskGet)).json()).toEqual({ servedHere: SELF });
    expect(h.goneTasks).toEqual(['alice/task_1']);
  });
});
