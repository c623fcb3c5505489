import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import type { Timers } from '../../src/outbox/pacing/bucket.js';
import { createBucketPacer, type BucketPacer } from '../../src/outbox/pacing/index.js';
import { createProviderClient, type ProviderTarget } from '../../src/providers/client.js';
import { apiKeyCredentials } from '../../src/providers/credentials.js';

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

const tick = () => new Promise((r) => setTimeout(r, 5));

/**
 * A provider's window spent (`X-RateLimit-Remaining: 0`, the reset 10 minutes away) or a long
 * Retry-After pauses the bucket until then. A call someone waits for is not held there past
 * `api.maxRetryAfterMs` (nor its timeout): it is refused at once, retryable, saying when to retry,
 * as a provider's own 429 with a long Retry-After is answered at once. A queued job waits, unsent.
 */
describe('a read whose pacing token is further away than it may wait', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  let answer: (n: number) => { status: number; headers: Record<string, string> };
  const clock = manualClock(1_800_000_000_000);
  let pacer: BucketPacer;
  let fireDue: () => void;

  beforeEach(async () => {
    hits = 0;
    server = createServer((_req, res) => {
      const a = answer(++hits);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(`{"n":${hits}}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const t = clockTimers(clock);
    fireDue = t.fireDue;
    pacer = createBucketPacer({ limits: () => ({ perApp: { perSecond: 10, burst: 10 } }), clock, timers: t.timers });
  });
  afterEach(async () => {
    pacer.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = () => createProviderClient({ clock, pacer, sleep: async () => {}, limits: { timeoutMs: 5_000, maxRetryAfterMs: 5_000 } });
  const target = (extra: Partial<ProviderTarget> = {}): ProviderTarget => ({
    label: 'Acme',
    apiBaseUrl: `${base}/api`,
    credentials: apiKeyCredentials({ header: 'x-api-key', value: 'k' }),
    paceKey: 'acme:app',
    ...extra,
  });
  const resetIn = (s: number) => String(Math.floor(clock.now() / 1000) + s);

  it('a spent window: refused at once with source_unavailable naming the reset; nothing is sent', async () => {
    answer = (n) => ({
      status: 200,
      headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': n === 1 ? '0' : '4999', 'x-ratelimit-reset': resetIn(600) },
    });
    const fetch = client().bind(target());
    expect((await fetch('/x')).status).toBe(200);
    const err = await fetch('/x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HubError);
    const reset = new Date(Math.floor(clock.now() / 1000 + 600) * 1000);
    const waitMs = reset.getTime() - clock.now();
    expect(err).toMatchObject({
      code: 'source_unavailable',
      message: `the rate limit of Acme is spent: no request may be sent before ${reset.toISOString()}; retry after ${Math.ceil(waitMs / 1000)} s (nothing was sent)`,
      details: { retryAfterMs: waitMs },
    });
    expect(hits).toBe(1);
  });

  it('a 429 with a Retry-After past maxRetryAfterMs: the 429 is the answer, and the next read is refused at once', async () => {
    answer = () => ({ status: 429, headers: { 'retry-after': '600' } });
    const fetch = client().bind(target());
    expect((await fetch('/x')).status).toBe(429);
    await expect(fetch('/x')).rejects.toMatchObject({ code: 'source_unavailable', details: { retryAfterMs: 600_000 } });
    expect(hits).toBe(1);
  });

  it('a pause within maxRetryAfterMs is waited out, and a queued job (beforeSend) waits for a long one', async () => {
    answer = (n) => ({ status: n === 1 ? 429 : 200, headers: n === 1 ? { 'retry-after': '3' } : ({} as Record<string, string>) });
    const c = client();
    // Not retried here, so the next read is the one that meets the pause.
    expect((await c.bind(target({ limits: { retries: 0 } }))('/x')).status).toBe(429);
    let read = 0;
    void c
      .bind(target())('/x')
      .then((r) => (read = r.status));
    await tick();
    expect(read).toBe(0);
    clock.advance(3_000);
    for (let i = 0; i < 50 && read === 0; i++) {
      fireDue();
      await tick();
    }
    expect(read).toBe(200);

    answer = () => ({ status: 429, headers: { 'retry-after': '600' } });
    expect((await c.bind(target())('/x')).status).toBe(429);
    answer = () => ({ status: 200, headers: {} });
    let sent = 0;
    const job = c
      .bind(target({ beforeSend: async () => void sent++ }))('/x', { method: 'POST' })
      .then((r) => r.status);
    await tick();
    expect(sent).toBe(0);
    clock.advance(600_000);
    let status = 0;
    void job.then((s) => (status = s));
    for (let i = 0; i < 50 && status === 0; i++) {
      fireDue();
      await tick();
    }
    expect({ sent, status }).toEqual({ sent: 1, status: 200 });
  });
});
