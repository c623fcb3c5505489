import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createBucketPacer, type BucketPacer } from '../../src/outbox/pacing/index.js';
import type { Timers } from '../../src/outbox/pacing/bucket.js';

/** Timers that fire when the test says, at the manual clock's time. */
function clockTimers(clock: { now(): number }) {
  const due = new Map<number, { at: number; fn: () => void }>();
  let n = 0;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      due.set(++n, { at: clock.now() + ms, fn });
      return n;
    },
    clearTimeout: (h) => {
      due.delete(h as number);
    },
  };
  const fireDue = () => {
    for (const [id, t] of [...due]) {
      if (t.at > clock.now()) continue;
      due.delete(id);
      t.fn();
    }
  };
  return { timers, fireDue };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('a provider window spent (X-RateLimit-Remaining: 0)', () => {
  let server: Server;
  let base: string;
  let clock: ReturnType<typeof manualClock>;
  let pacer: BucketPacer;
  /** A GitHub-style fixed window per token: `LIMIT` requests until the reset (epoch seconds). */
  const LIMIT = 3;
  const windows = new Map<string, { used: number; reset: number }>();
  const refused: string[] = [];
  /** Whether the answers name the limit beside remaining and reset (GitHub does; not every provider). */
  let sendLimit = true;

  beforeEach(async () => {
    clock = manualClock();
    windows.clear();
    refused.length = 0;
    server = createServer((req, res) => {
      const who = String(req.headers.authorization);
      const nowS = Math.floor(clock.now() / 1000);
      let w = windows.get(who);
      if (w === undefined || w.reset <= nowS) {
        w = { used: 0, reset: nowS + 60 };
        windows.set(who, w);
      }
      const over = w.used >= LIMIT;
      if (!over) w.used++;
      else refused.push(who);
      res
        .writeHead(over ? 429 : 201, {
          ...(sendLimit ? { 'x-ratelimit-limit': String(LIMIT) } : {}),
          'x-ratelimit-remaining': String(LIMIT - w.used),
          'x-ratelimit-reset': String(w.reset),
        })
        .end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    pacer.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each([
    ['with', true],
    ['without', false],
  ])('sends nothing more on that connection until the reset (%s X-RateLimit-Limit); another user’s connection goes on', async (_label, limit) => {
    sendLimit = limit;
    const t = clockTimers(clock);
    pacer = createBucketPacer({ limits: () => ({ perConnection: { perSecond: 10, burst: 10 } }), clock, timers: t.timers });
    const signal = new AbortController().signal;
    const start = clock.now();
    const granted: Record<string, boolean> = {};
    const write = async (who: string) => {
      await pacer.acquire(`gh:${who}`, signal);
      granted[who] = true;
      const res = await fetch(`${base}/issues`, { method: 'POST', headers: { authorization: who } });
      pacer.observe(`gh:${who}`, { status: res.status, headers: res.headers });
      await res.arrayBuffer();
      return res.status;
    };
    for (let i = 0; i < LIMIT; i++) expect(await write('alice')).toBe(201);
    granted.alice = false;
    let fourth = 0;
    const pending = write('alice').then((s) => (fourth = s));
    // 59 s at the declared 10/s would refill the bucket many times over: the window is still spent.
    for (let s = 1; s < 60; s++) {
      clock.advance(1000);
      t.fireDue();
      await tick();
    }
    expect(granted.alice).toBe(false);
    // Bob's window is his own.
    expect(await write('bob')).toBe(201);
    expect(granted.alice).toBe(false);
    clock.advance(1000);
    // At the reset the bucket refills from empty at the declared rate: the write goes within a token's time.
    // (The refill awaits the limiter between timers: let it settle before each step of the clock.)
    for (let i = 0; i < 200 && !granted.alice; i++) {
      t.fireDue();
      await new Promise((r) => setTimeout(r, 2));
      if (i % 5 === 4) clock.advance(100);
    }
    expect(clock.now() - start).toBeLessThanOrEqual(60_000 + 1_000);
    await pending;
    expect(fourth).toBe(201);
    expect(refused).toEqual([]);
  });
});
