import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { isHubError } from '../../src/errors.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { BREAKER_GAUGE, CircuitBreakers } from '../../src/outbox/breaker.js';

const fail5xx = { kind: 'status', status: 503 } as const;

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isHubError(err) ? err.code : 'not a HubError';
  }
}

describe('the circuit breaker per integration', () => {
  it('opens after N consecutive 5xx, timeouts or network failures, with a message that says why and when', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 3, coolDownMs: 10_000, clock });
    b.check('acme');
    b.record('acme', fail5xx);
    b.record('acme', { kind: 'timeout' });
    expect(codeOf(() => b.check('acme'))).toBeUndefined();
    b.record('acme', { kind: 'network' });
    let message = '';
    try {
      b.check('acme');
    } catch (err) {
      expect(isHubError(err) && err.code).toBe('circuit_open');
      message = (err as Error).message;
    }
    expect(message).toBe(
      `acme is failing (3 consecutive 5xx answers, timeouts or network errors), so calls are paused; it retries at ${new Date(clock.now() + 10_000).toISOString()}`,
    );
    // Another integration is not affected.
    expect(codeOf(() => b.check('other'))).toBeUndefined();
  });

  it('never opens on 4xx, and a success in between resets the count', () => {
    const b = new CircuitBreakers({ threshold: 2, clock: manualClock() });
    for (const status of [400, 401, 403, 404, 409, 422, 429]) for (let i = 0; i < 5; i++) b.record('acme', { kind: 'status', status });
    expect(codeOf(() => b.check('acme'))).toBeUndefined();
    b.record('acme', fail5xx);
    b.record('acme', { kind: 'status', status: 200 });
    b.record('acme', fail5xx);
    expect(codeOf(() => b.check('acme'))).toBeUndefined();
    b.record('acme', fail5xx);
    expect(codeOf(() => b.check('acme'))).toBe('circuit_open');
  });

  it('half-opens after the cool-down, lets one probe through, and closes when it succeeds', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 1, coolDownMs: 5_000, clock });
    b.record('acme', fail5xx);
    clock.advance(4_999);
    expect(codeOf(() => b.check('acme'))).toBe('circuit_open');
    clock.advance(1);
    expect(codeOf(() => b.check('acme'))).toBeUndefined();
    expect(b.snapshot()).toEqual([{ integration: 'acme', state: 'half_open', failures: 1, retryAt: undefined }]);
    // While the probe is out, everyone else still fails fast.
    expect(codeOf(() => b.check('acme'))).toBe('circuit_open');
    b.record('acme', { kind: 'status', status: 201 });
    expect(b.snapshot()).toEqual([{ integration: 'acme', state: 'closed', failures: 0, retryAt: undefined }]);
    expect(codeOf(() => b.check('acme'))).toBeUndefined();
  });

  it('opens again at once when the probe fails', () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 3, coolDownMs: 5_000, clock });
    for (let i = 0; i < 3; i++) b.record('acme', { kind: 'timeout' });
    clock.advance(5_000);
    b.check('acme');
    b.record('acme', { kind: 'network' });
    expect(b.snapshot()[0]).toMatchObject({ state: 'open', retryAt: clock.now() + 5_000 });
    expect(codeOf(() => b.check('acme'))).toBe('circuit_open');
  });

  it('shows each state on /metrics as switchboard_breaker_state{integration}', async () => {
    const clock = manualClock();
    const b = new CircuitBreakers({ threshold: 1, coolDownMs: 1_000, clock });
    b.record('acme', fail5xx);
    b.record('beta', { kind: 'status', status: 200 });
    const metrics = new HubMetrics();
    metrics.setBreakers(b.snapshot().map((s) => ({ integration: s.integration, value: BREAKER_GAUGE[s.state] })));
    const text = await metrics.text();
    expect(text).toContain('switchboard_breaker_state{integration="acme"} 2');
    expect(text).toContain('switchboard_breaker_state{integration="beta"} 0');
  });
});
