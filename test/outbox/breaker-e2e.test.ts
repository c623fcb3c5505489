/**
 * Issue 9's breaker acceptance, end to end: a 2025-era and a 2026-era MCP client write through a
 * hub whose integration is the bucket API on loopback. The API answers 503 for a window read on
 * the hub's injected clock, so the test moves time instead of sleeping through the outage. The
 * circuit opens, holds the queue without spending attempts, lets one probe through when it
 * half-opens, and closes when the API recovers; /metrics, /readyz and /connect say so throughout.
 * Every write is applied exactly once (the API counts by idempotency key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import type { Identity } from '../../src/identity/identity.js';
import type { BreakerSnapshot } from '../../src/outbox/breaker.js';
import { notesIntegration, startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { connectClient, type CallResult, type FaceClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { Browser } from '../integrations/browser.js';

const COOL_DOWN_MS = 30_000;
/** Past one cool-down, inside the second: the first probe meets the outage, the second the recovery. */
const OUTAGE_MS = 45_000;
/** Per client and wave: the first wave opens the circuit (threshold 5), the second arrives while it is open. */
const WRITES_PER_WAVE = 3;
const ALICE: Identity = { tenant: 'default', user: 'alice', scopes: [] };

describe('the circuit breaker through real MCP clients (503 for a while, then recovery)', () => {
  const clock = manualClock(Date.now());
  let api: BucketApi;
  let hub: RunningHub;
  let origin: string;
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 1_000, burst: 1_000, clock });
    hub = await startHub(
      {
        integrations: {
          notes: notesIntegration(api, { key: 'k-notes-secret' }),
        },
        // The callers wait for their writes throughout: the answer they get is the provider's.
        outbox: { waitMs: 60_000 },
      },
      { clock, breakers: { threshold: 5, coolDownMs: COOL_DOWN_MS } },
    );
    origin = new URL(hub.url).origin;
    const endpoint = { transport: 'http', url: hub.url, token: hub.token } as const;
    clients.push(await connectClient('v2-legacy', endpoint), await connectClient('v2-auto', endpoint));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    await api?.close();
  });

  const notes = (): BreakerSnapshot => hub.hub.integrations.breakers.snapshot().find((b) => b.integration === 'notes')!;
  const gauge = async () => /switchboard_breaker_state\{integration="notes"\} (\d)/.exec(await (await fetch(`${origin}/metrics`)).text())?.[1];
  const readyz = async () => (await (await fetch(`${origin}/readyz`)).json()) as { status: string; breakers?: Record<string, unknown> };
  const jobs = () => hub.hub.outbox.outbox.list({ integration: 'notes' });
  /** Nothing in flight: every job queued and unleased (or final), and the API's count still. */
  const settled = async () => {
    const before = api.stats.requests;
    await eventually(async () => (await jobs()).every((j) => j.state !== 'sending') || undefined);
    await new Promise((r) => setTimeout(r, 50));
    return api.stats.requests === before && (await jobs()).every((j) => j.state !== 'sending');
  };
  /** Moves time to `t`, wakes the worker, waits for what it should then do, then for nothing more in flight. */
  const wakeAt = async (t: number, until: () => boolean | Promise<boolean>) => {
    clock.set(t);
    hub.hub.outbox.worker.wake();
    await eventually(async () => (await until()) || undefined);
    await eventually(settled);
  };

  it('opens on the 503s, holds the queue without spending attempts, probes once per cool-down, and closes on recovery', async () => {
    expect(clients.map((c) => c.protocolVersion)).toEqual(['2025-11-25', '2026-07-28']);
    expect(await gauge()).toBe('0');
    const t0 = clock.now();
    api.failFor(OUTAGE_MS);

    const wave = (n: number) =>
      clients.flatMap((c) => Array.from({ length: WRITES_PER_WAVE }, (_, i) => c.callTool('notes__create', { text: `${c.kind}-${n}-${i}` })));
    const calls: Array<Promise<CallResult>> = wave(1);
    await eventually(async () => (await jobs()).length === calls.length || undefined);
    await eventually(async () => (notes().state === 'open' && (await settled())) || undefined);
    const firstWave = new Set((await jobs()).map((j) => j.id));
    // Arriving while the circuit is open: claimed, given back unsent, no attempt spent.
    const sentBefore = api.stats.requests;
    calls.push(...wave(2));
    const total = calls.length;
    await eventually(async () => (await jobs()).length === total || undefined);
    await eventually(settled);
    expect(api.stats.requests).toBe(sentBefore);
    for (const j of (await jobs()).filter((j) => !firstWave.has(j.id))) expect(j).toMatchObject({ state: 'queued', attempts: 0 });

    // Open: on /metrics as 2, on /readyz with its failures and when it retries (and the hub degraded).
    const opened = notes();
    expect(opened.failures).toBeGreaterThanOrEqual(5);
    expect(await gauge()).toBe('2');
    expect(await readyz()).toMatchObject({
      status: 'degraded',
      breakers: { notes: { state: 'open', failures: opened.failures, retryAt: new Date(opened.retryAt!).toISOString() } },
    });
    const page = await connectPage();
    expect(page).toContain(`Writes to notes are paused: it failed ${opened.failures} time(s) in a row`);
    expect(page).toContain(`retried at ${new Date(opened.retryAt!).toISOString()}`);
    for (const text of [page, JSON.stringify(await readyz()), await (await fetch(`${origin}/metrics`)).text()]) expect(text).not.toContain('k-notes-secret');

    // Every backoff has passed, the circuit has not: the due jobs are claimed and given back unsent.
    const requests = api.stats.requests;
    const spent = (await jobs()).map((j) => [j.id, j.attempts]);
    await wakeAt(t0 + 10_000, async () => (await jobs()).every((j) => j.nextAttemptAt === opened.retryAt));
    expect(api.stats.requests).toBe(requests);
    expect((await jobs()).map((j) => [j.id, j.attempts])).toEqual(spent);
    for (const j of await jobs()) expect(j.state).toBe('queued');
    // Every request so far was a 503 the breaker counted; the second wave sent none.
    expect(api.stats.requests).toBe(opened.failures);
    expect(opened.failures).toBe(firstWave.size);

    // Half-open inside the outage: exactly one probe goes, meets a 503, and the circuit opens again.
    await wakeAt(opened.retryAt!, () => notes().state === 'open' && notes().retryAt! > opened.retryAt!);
    expect(api.stats.requests).toBe(requests + 1);
    const reopened = notes();
    expect(reopened).toMatchObject({ state: 'open', retryAt: opened.retryAt! + COOL_DOWN_MS });
    expect(await gauge()).toBe('2');

    // Past the outage: the probe succeeds, the circuit closes, and the rest follow.
    await wakeAt(reopened.retryAt!, () => notes().state === 'closed');
    expect(notes()).toMatchObject({ state: 'closed', failures: 0 });
    expect(await gauge()).toBe('0');
    let results: CallResult[] | undefined;
    void Promise.all(calls).then((r) => (results = r));
    await eventually(async () => {
      if (results) return results;
      clock.advance(1_000);
      hub.hub.outbox.worker.wake();
      return undefined;
    }, 30_000);

    expect(results!.filter((r) => r.isError)).toEqual([]);
    const keys = results!.map((r) => (r.structuredContent as { key: string }).key);
    expect(new Set(keys).size).toBe(total);
    for (const k of keys) expect(api.appliedByKey.get(k)).toBe(1);
    expect(api.stats.applied).toBe(total);
    // Every attempt a job spent is a request the API saw, and the other way round: a held job spent none.
    const final = await jobs();
    expect(final.every((j) => j.state === 'done')).toBe(true);
    expect(final.reduce((n, j) => n + j.attempts, 0)).toBe(api.stats.requests);
    expect(api.stats.unavailable).toBe(opened.failures + 1);
    expect(await readyz()).toMatchObject({ status: 'ready', breakers: { notes: { state: 'closed', failures: 0, retryAt: null } } });
    expect(await connectPage()).not.toContain('paused');
  }, 60_000);

  async function connectPage(): Promise<string> {
    const browser = new Browser();
    expect((await browser.get(hub.hub.integrations.accounts.connectUrl(ALICE))).status).toBe(303);
    const res = await browser.get(`${origin}/connect`);
    expect(res.status).toBe(200);
    return res.text();
  }
});
