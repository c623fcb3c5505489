import { systemClock, type Clock } from '../clock.js';
import { HubError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** What an attempt came to, as far as the breaker cares. */
export type AttemptOutcome = { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'network' };

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  threshold?: number;
  /** How long it stays open before one probe is let through. */
  coolDownMs?: number;
  clock?: Clock;
}

export interface BreakerSnapshot {
  integration: string;
  state: BreakerState;
  failures: number;
  /** Epoch ms when an open circuit lets a probe through; undefined unless open. */
  retryAt: number | undefined;
}

/**
 * Trips only on the provider's own trouble: 5xx, timeouts and network failures. A 4xx is about
 * one request or one account (a revoked token, a forbidden repository): counting it would let one
 * user's broken connection shut the integration for everyone. A 429 is pacing's business.
 */
export function countsAgainst(o: AttemptOutcome): boolean {
  return o.kind !== 'status' || o.status >= 500;
}

interface Circuit {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probing: boolean;
}

/**
 * A circuit breaker per integration: closed → open after `threshold` consecutive failures →
 * half-open after `coolDownMs` → one probe → closed on success, open again on failure.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly clock: Clock;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = opts.threshold ?? 5;
    this.coolDownMs = opts.coolDownMs ?? 30_000;
    this.clock = opts.clock ?? systemClock;
  }

  private circuit(integration: string): Circuit {
    let c = this.circuits.get(integration);
    if (c === undefined) {
      c = { state: 'closed', failures: 0, openedAt: 0, probing: false };
      this.circuits.set(integration, c);
    }
    return c;
  }

  /**
   * Before an attempt: returns when it may go, throws `circuit_open` when not. Past the cool-down
   * the first caller becomes the probe; the others still fail fast until it reports.
   */
  check(integration: string): void {
    const c = this.circuit(integration);
    if (c.state === 'closed') return;
    const retryAt = c.openedAt + this.coolDownMs;
    if (c.state === 'open' && this.clock.now() >= retryAt) {
      c.state = 'half_open';
      c.probing = false;
    }
    if (c.state === 'half_open' && !c.probing) {
      c.probing = true;
      return;
    }
    const when = c.state === 'half_open' ? 'a probe is under way' : `it retries at ${new Date(retryAt).toISOString()}`;
    throw new HubError(
      'circuit_open',
      `${integration} is failing (${c.failures} consecutive 5xx answers, timeouts or network errors), so calls are paused; ${when}`,
      { details: { integration, state: c.state, retryAt } },
    );
  }

  /** After an attempt that `check` let through. */
  record(integration: string, outcome: AttemptOutcome): void {
    const c = this.circuit(integration);
    if (!countsAgainst(outcome)) {
      // A 4xx still proves the provider is up: it answered.
      c.state = 'closed';
      c.failures = 0;
      c.probing = false;
      return;
    }
    c.failures++;
    if (c.state === 'half_open' || c.failures >= this.threshold) {
      c.state = 'open';
      c.openedAt = this.clock.now();
      c.probing = false;
    }
  }

  /** Every integration's circuit, for `/readyz` details. */
  snapshot(): BreakerSnapshot[] {
    return [...this.circuits].map(([integration, c]) => ({
      integration,
      state: c.state,
      failures: c.failures,
      retryAt: c.state === 'open' ? c.openedAt + this.coolDownMs : undefined,
    }));
  }
}

/** The gauge's value per state (`switchboard_breaker_state`): 0 closed, 1 half-open, 2 open. */
export const BREAKER_GAUGE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };
