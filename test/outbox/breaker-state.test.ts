/**
 * The breaker's state as others read it: `admit` (the worker's question), every change told to
 * listeners, the gauge current at each scrape even when only time moved, a lost probe given up,
 * and the /connect page's line. A manual clock throughout.
 */
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { connectPage } from '../../src/http/connect-page.js';
import { breakerReport } from '../../src/http/routes.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { BREAKER_GAUGE, CircuitBreakers, type BreakerState } from '../../src/outbox/breaker.js';

const fail = { kind: 'status', status: 503 } as const;

describe('the breaker state others read', () => {
  it('admit says when to ask again: the cool-down while open, a short wait while a probe is out', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 2, coolDownMs: 10_000, probeWaitMs: 250, clock });
    expect(b.admit('acme')).toEqual({ ok: true });
    b.record('acme', fail);
    expect(b.admit('acme')).toEqual({ ok: true });
    b.record('acme', fail);
    const openedAt = clock.now();
    expect(b.admit('acme')).toEqual({ ok: false, retryAt: openedAt + 10_000, state: 'open', failures: 2 });
    clock.advance(10_000);
    expect(b.admit('acme')).toEqual({ ok: true, probe: true });
    expect(b.admit('acme')).toEqual({ ok: false, retryAt: clock.now() + 250, state: 'half_open', failures: 2 });
  });

  it('a probe that never reports is given up after a cool-down, and the next caller probes', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 1, coolDownMs: 10_000, clock });
    b.record('acme', fail);
    clock.advance(10_000);
    expect(b.admit('acme').ok).toBe(true);
    clock.advance(9_999);
    expect(b.admit('acme').ok).toBe(false);
    clock.advance(1);
    expect(b.admit('acme').ok).toBe(true);
    expect(b.admit('acme').ok).toBe(false);
  });

  it('tells listeners of each change of state, once, including the half-open that time alone brings', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 2, coolDownMs: 1_000, clock });
    const seen: BreakerState[] = [];
    b.onChange((s) => seen.push(s.state));
    b.record('acme', fail);
    b.record('acme', fail);
    b.record('acme', fail);
    clock.advance(1_000);
    b.snapshot();
    b.admit('acme');
    b.record('acme', fail);
    clock.advance(1_000);
    b.admit('acme');
    b.record('acme', { kind: 'status', status: 404 });
    b.record('acme', { kind: 'status', status: 200 });
    expect(seen).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('the gauge is set on each change and read again at each scrape; an added integration shows 0 before any send', async () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 1, coolDownMs: 1_000, clock });
    const metrics = new HubMetrics();
    const show = () => metrics.setBreakers(b.snapshot().map((s) => ({ integration: s.integration, value: BREAKER_GAUGE[s.state] })));
    b.onChange(show);
    metrics.beforeScrape(show);
    b.add('quiet');
    const line = async (name: string) => new RegExp(`switchboard_breaker_state\\{integration="${name}"\\} (\\d)`).exec(await metrics.text())?.[1];
    expect(await line('quiet')).toBe('0');
    b.record('acme', fail);
    expect(await line('acme')).toBe('2');
    clock.advance(1_000);
    expect(await line('acme')).toBe('1');
    b.admit('acme');
    b.record('acme', { kind: 'status', status: 201 });
    expect(await line('acme')).toBe('0');
  });

  it('/readyz details and the /connect line say the state, the failures and when it retries, for rows and for key-only integrations', () => {
    const clock = manualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const b = new CircuitBreakers({ threshold: 1, coolDownMs: 30_000, clock });
    b.record('notes', fail);
    b.record('tickets', { kind: 'timeout' });
    b.record('calm', { kind: 'status', status: 200 });
    expect(breakerReport(b.snapshot())).toEqual({
      notes: { state: 'open', failures: 1, retryAt: '2026-01-01T12:00:30.000Z' },
      tickets: { state: 'open', failures: 1, retryAt: '2026-01-01T12:00:30.000Z' },
      calm: { state: 'closed', failures: 0, retryAt: null },
    });
    clock.advance(5_000);
    const html = connectPage({
      identity: { tenant: 'default', user: 'alice', scopes: [] },
      rows: [
        { name: 'tickets', title: 'Tickets', description: undefined, connection: undefined },
        { name: 'calm', title: 'Calm', description: undefined, connection: undefined },
      ],
      now: clock.now(),
      linkUrl: () => 'https://hub.example/link',
      csrf: 'c',
      sessionEndsAt: clock.now() + 60_000,
      notice: '',
      breakers: b.snapshot(),
    });
    const line = (title: string) =>
      `Writes to ${title} are paused: it failed 1 time(s) in a row (5xx answers, timeouts or network errors). They wait in the queue and are retried at 2026-01-01T12:00:30.000Z (in 25 s).`;
    expect(html).toContain(`<br><small class="breaker open">${line('Tickets')}</small>`);
    expect(html).toContain(`<p class="breaker open">${line('notes')}</p>`);
    expect(html).not.toContain('Writes to Calm');
  });
});
