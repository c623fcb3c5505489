import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT_MS, MISSED_BEATS, PRUNE_AFTER_MS, type ReplicaRegistry } from '../../src/replicas/registry.js';

export interface ReplicaHarness {
  /** Two replicas' registries on one store, on one clock the test moves. */
  a: ReplicaRegistry;
  b: ReplicaRegistry;
  clock: { now(): number; advance(ms: number): void };
}

const A = { id: 'host-a/101/aaaa', url: 'http://127.0.0.1:9001' };
const B = { id: 'host-b/202/bbbb', url: 'http://127.0.0.1:9002' };

/** What every ReplicaRegistry keeps, run on SQLite (test/replicas) and PostgreSQL (test/pg). */
export function replicaRegistryContract(name: string, make: () => ReplicaHarness | Promise<ReplicaHarness>): void {
  describe(`ReplicaRegistry contract: ${name}`, () => {
    let h: ReplicaHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('a registered replica is found, alive, by the others; an unknown id is not found', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      await h.b.register({ ...B, startedAt: h.clock.now() });
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: true });
      expect(await h.a.lookup(B.id)).toEqual({ url: B.url, alive: true });
      expect(await h.a.lookup('host-c/303/cccc')).toBeUndefined();
    });

    it('is alive until three intervals pass without a beat, and a beat makes it alive again', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      h.clock.advance(MISSED_BEATS * DEFAULT_HEARTBEAT_MS - 1);
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: true });
      h.clock.advance(1);
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: false });
      await h.a.heartbeat();
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: true });
      h.clock.advance(DEFAULT_HEARTBEAT_MS);
      await h.a.heartbeat();
      h.clock.advance(MISSED_BEATS * DEFAULT_HEARTBEAT_MS - 1);
      expect((await h.b.lookup(A.id))?.alive).toBe(true);
    });

    it('live lists the replicas alive now, the last started first; a stopped or silent one is left out', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      h.clock.advance(1);
      await h.b.register({ ...B, startedAt: h.clock.now() });
      expect(await h.a.live()).toEqual([B.url, A.url]);
      await h.b.forget();
      expect(await h.a.live()).toEqual([A.url]);
      h.clock.advance(MISSED_BEATS * DEFAULT_HEARTBEAT_MS);
      expect(await h.b.live()).toEqual([]);
    });

    it('forget marks only its own row stopped, at once; registering again clears it', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      await h.b.register({ ...B, startedAt: h.clock.now() });
      await h.b.forget();
      // Stopped, not unknown: a retry naming B is told its holder stopped.
      expect(await h.a.lookup(B.id)).toEqual({ url: B.url, alive: false });
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: true });
      await h.b.register({ ...B, startedAt: h.clock.now() });
      expect(await h.a.lookup(B.id)).toEqual({ url: B.url, alive: true });
    });

    it('rows dead for a day are pruned when another registers; a beat after that registers again', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      await h.b.register({ ...B, startedAt: h.clock.now() });
      await h.b.forget();
      h.clock.advance(PRUNE_AFTER_MS + 1);
      await h.b.register({ ...B, startedAt: h.clock.now() });
      // A ran on without beating (a paused process): its row went with the day-old ones.
      expect(await h.b.lookup(A.id)).toBeUndefined();
      await h.a.heartbeat();
      expect(await h.b.lookup(A.id)).toEqual({ url: A.url, alive: true });
    });

    it('registering again under the same id (a restart on another port) replaces the address', async () => {
      await h.a.register({ ...A, startedAt: h.clock.now() });
      h.clock.advance(10 * DEFAULT_HEARTBEAT_MS);
      await h.a.register({ ...A, url: 'http://127.0.0.1:9101', startedAt: h.clock.now() });
      expect(await h.b.lookup(A.id)).toEqual({ url: 'http://127.0.0.1:9101', alive: true });
    });

    it('a heartbeat before register is a programming error, and forget before register does nothing', async () => {
      await expect(h.a.heartbeat()).rejects.toThrow('heartbeat before register');
      await h.b.register({ ...B, startedAt: h.clock.now() });
      await h.a.forget();
      expect(await h.a.lookup(B.id)).toEqual({ url: B.url, alive: true });
    });
  });
}
