import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT_MS, MISSED_BEATS } from '../../src/replicas/registry.js';
import { eventually } from '../helpers/hub.js';
import { type ForwardHarness, forwardHarness, goneAnswer, HOLDER_ANSWER, retry, taskGet } from './forward-harness.js';

/**
 * Every replica's heartbeat goes stale while the store itself is away (a PostgreSQL restart or
 * failover longer than three beats). A stale heartbeat is then no proof that the holder of a
 * round or a task is gone: it is tried at its registered address, and only a refused connection
 * (or a holder that stays silent and shows no beat once the store answers) makes it gone, so a
 * live holder's round is not dropped and its running task is not recorded `failed` for good.
 */
const SELF = 'host-b/2/bbbbbbbb';
/** How long the store was away: past three beats. */
const OUTAGE_MS = MISSED_BEATS * DEFAULT_HEARTBEAT_MS + 5_000;

describe('a holder whose heartbeat is stale', () => {
  let h: ForwardHarness;
  beforeEach(() => {
    h = forwardHarness();
  });
  afterEach(() => h.close());

  it('after a store outage is still sent the retry and the task request, and its answers are relayed', async () => {
    await h.startHolder();
    const b = await h.startReplica(SELF);
    h.clock.advance(OUTAGE_MS);
    expect(await h.registry.lookup('host-a/1/aaaaaaaa')).toMatchObject({ alive: false });

    const res = await h.post(b, retry);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(HOLDER_ANSWER);
    expect(await (await h.post(b, taskGet)).json()).toEqual(HOLDER_ANSWER);
    expect(h.seen.map((s) => JSON.parse(s.body))).toEqual([retry, taskGet]);
    // Nothing recorded the running task as having lost its holder.
    expect(h.goneTasks).toEqual([]);
  });

  it('and refusing connections at its address is gone: the retry is told so and the task record says so', async () => {
    await h.startHolder();
    const b = await h.startReplica(SELF);
    h.clock.advance(OUTAGE_MS);
    await h.killHolder();
    expect(await (await h.post(b, retry)).json()).toEqual(goneAnswer());
    expect((await h.post(b, taskGet)).status).toBe(418);
    expect(h.goneTasks).toEqual(['alice/task_1']);
  });

  it('when the round begins is given three checks to beat again, and a holder that does is waited for', async () => {
    const held = h.holdRounds();
    await h.startHolder();
    const b = await h.startReplica(SELF, 5);
    h.clock.advance(OUTAGE_MS);
    // Read 1 is the forwarder's own before sending; the round's checks follow. The holder's beat
    // lands before the last check that would give it up (its store is back, its timer fires).
    h.registry.beforeRead = async (n) => {
      if (n === MISSED_BEATS) await h.holder.heartbeat();
    };
    const pending = h.post(b, retry);
    await eventually(() => (held() && h.registry.reads >= MISSED_BEATS + 3 ? true : undefined));
    held()!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(HOLDER_ANSWER));
    expect(await (await pending).json()).toEqual(HOLDER_ANSWER);
  });

  it('because the store went away during the round is not given up once the store answers again, but given the same three checks', async () => {
    const held = h.holdRounds();
    await h.startHolder();
    const b = await h.startReplica(SELF, 5);
    // Reads 1-2 find the holder beating; 3-4 cannot reach the store, which is away for longer
    // than three beats; from read 5 on the store answers and the holder is stale until it beats at read 7.
    h.registry.beforeRead = async (n) => {
      if (n === 3) {
        h.registry.away = true;
        h.clock.advance(OUTAGE_MS);
      }
      if (n === 5) h.registry.away = false;
      if (n === 5 + MISSED_BEATS - 1) await h.holder.heartbeat();
    };
    const pending = h.post(b, retry);
    await eventually(() => (held() && h.registry.reads >= 5 + MISSED_BEATS + 2 ? true : undefined));
    held()!.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(HOLDER_ANSWER));
    expect(await (await pending).json()).toEqual(HOLDER_ANSWER);
  });

  it('that stays silent and shows no beat in three checks is given up: the retry is told it stopped beating', async () => {
    const held = h.holdRounds();
    await h.startHolder();
    const b = await h.startReplica(SELF, 5);
    h.clock.advance(OUTAGE_MS);
    expect(await (await h.post(b, retry)).json()).toEqual(goneAnswer('it stopped sending heartbeats while the call waited'));
    // One read before sending, then the three checks.
    expect(h.registry.reads).toBe(1 + MISSED_BEATS);
    expect(await eventually(() => (held()?.destroyed ? true : undefined))).toBe(true);
  });
});
