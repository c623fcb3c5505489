import { systemClock, type Clock } from '../clock.js';
import { HubError, isHubError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * What an attempt came to, as far as the breaker cares. `refused`: it never reached the API for a
 * reason of one connection or one request (the account must be linked again, the token endpoint
 * refused a refresh, a redirect was refused), as a 4xx is.
 */
export type AttemptOutcome = { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'network' } | { kind: 'refused' };

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  threshold?: number;
  /** How long it stays open before one probe is let through. */
  coolDownMs?: number;
  /**
   * While a probe is out, how soon the others ask again (default 1 s: a probe takes one request's
   * time, and the queue should follow a recovered provider at once, not a cool-down later).
   */
  probeWaitMs?: number;
  clock?: Clock;
}

/** Whether an attempt may go now; if not, when to ask again. */
/** `probe`: the circuit is half-open and this attempt is the one it lets through to test the provider. */
export type Admission = { ok: true; probe?: true } | { ok: false; retryAt: number; state: BreakerState; failures: number };

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
  return o.kind === 'status' ? o.status >= 500 : o.kind !== 'refused';
}

/**
 * How a send that threw counts: a failure to reach the provider (`provider_unreachable`, or one the
 * hub did not name) and a timeout are the provider's trouble; any other error the hub raised is
 * about one connection or request. A revoked account's calls once counted as network failures,
 * and ten of them opened the circuit and held every other user's writes for its cool-down.
 */
export function outcomeOfThrown(err: unknown): AttemptOutcome {
  if (!isHubError(err) || err.code === 'provider_unreachable') return { kind: 'network' };
  return err.code === 'provider_timeout' ? { kind: 'timeout' } : { kind: 'refused' };
}

interface Circuit {
  state: BreakerState;
  failures: number;
  openedAt: number;
  /** When the probe under way was let through; undefined when none is. */
  probeAt: number | undefined;
}

/**
 * A circuit breaker per integration: closed → open after `threshold` consecutive failures →
 * half-open after `coolDownMs` → one probe → closed on success, open again on failure. A probe
 * that never reports (its job was cancelled before it left, its send threw before a request) is
 * given up after another `coolDownMs`, and the next caller probes instead.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly listeners = new Set<(s: BreakerSnapshot) => void>();
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly probeWaitMs: number;
  private readonly clock: Clock;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = opts.threshold ?? 5;
    this.coolDownMs = opts.coolDownMs ?? 30_000;
    this.probeWaitMs = Math.min(opts.probeWaitMs ?? 1_000, this.coolDownMs);
    this.clock = opts.clock ?? systemClock;
  }

  /** Starts tracking an integration as closed, so it is shown (as 0 on /metrics) before its first send. */
  add(integration: string): void {
    this.circuit(integration);
  }

  /** Told of every change of state (closed, open, half-open), e.g. to keep a gauge current. */
  onChange(listener: (s: BreakerSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private circuit(integration: string): Circuit {
    let c = this.circuits.get(integration);
    if (c === undefined) {
      c = { state: 'closed', failures: 0, openedAt: 0, probeAt: undefined };
      this.circuits.set(integration, c);
    }
    return c;
  }

  private move(integration: string, c: Circuit, to: BreakerState): void {
    const from = c.state;
    c.state = to;
    if (from !== to) for (const l of this.listeners) l(this.view(integration, c));
  }

  /** An open circuit past its cool-down is half-open: read lazily, here, by every caller. */
  private advance(integration: string, c: Circuit): void {
    if (c.state === 'open' && this.clock.now() >= c.openedAt + this.coolDownMs) {
      c.probeAt = undefined;
      this.move(integration, c, 'half_open');
    }
  }

  /**
   * Before an attempt, without throwing: whether it may go, or when to ask again. Past the
   * cool-down the first caller becomes the probe; the others wait `probeWaitMs` and ask again.
   */
  admit(integration: string): Admission {
    const c = this.circuit(integration);
    if (c.state === 'closed') return { ok: true };
    this.advance(integration, c);
    const now = this.clock.now();
    if (c.state === 'half_open' && (c.probeAt === undefined || now >= c.probeAt + this.coolDownMs)) {
      c.probeAt = now;
      return { ok: true, probe: true };
    }
    const retryAt = c.state === 'open' ? c.openedAt + this.coolDownMs : now + this.probeWaitMs;
    return { ok: false, retryAt, state: c.state, failures: c.failures };
  }

  /**
   * As `admit`, for a caller that is answered at once: throws `circuit_open` when the attempt may
   * not go; true when it goes as the half-open circuit's probe.
   */
  check(integration: string): boolean {
    const a = this.admit(integration);
    if (a.ok) return a.probe === true;
    const when = a.state === 'half_open' ? 'a probe is under way' : `it retries at ${new Date(a.retryAt).toISOString()}`;
    throw new HubError(
      'circuit_open',
      `${integration} is failing (${a.failures} consecutive 5xx answers, timeouts or network errors), so calls are paused; ${when}`,
      { details: { integration, state: a.state, retryAt: a.retryAt } },
    );
  }

  /** After an attempt that `admit` or `check` let through. */
  record(integration: string, outcome: AttemptOutcome): void {
    const c = this.circuit(integration);
    c.probeAt = undefined;
    if (!countsAgainst(outcome)) {
      // A 4xx still proves the provider is up: it answered.
      c.failures = 0;
      this.move(integration, c, 'closed');
      return;
    }
    c.failures++;
    if (c.state === 'half_open' || c.failures >= this.threshold) {
      c.openedAt = this.clock.now();
      this.move(integration, c, 'open');
    }
  }

  /** Every integration's circuit, for `/readyz`, `/connect` and `/metrics`. */
  snapshot(): BreakerSnapshot[] {
    return [...this.circuits].map(([integration, c]) => {
      this.advance(integration, c);
      return this.view(integration, c);
    });
  }

  private view(integration: string, c: Circuit): BreakerSnapshot {
    return { integration, state: c.state, failures: c.failures, retryAt: c.state === 'open' ? c.openedAt + this.coolDownMs : undefined };
  }
}

/** The gauge's value per state (`switchboard_breaker_state`): 0 closed, 1 half-open, 2 open. */
export const BREAKER_GAUGE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };
