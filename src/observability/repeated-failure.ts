import { describeError } from '../errors.js';
import type { Logger } from './logger.js';

/** While a failure lasts, it is told again at most this often (with how many times it happened). */
export const REMIND_EVERY_MS = 60_000;

/**
 * A failure a loop meets on each of its ticks — the store down, say — logged when it starts, when
 * its reason changes, once a minute while it lasts (with its count), and once when the loop works
 * again. Logged on every tick, three workers of each replica wrote a line a second each while
 * PostgreSQL was away: the log said nothing more after the first, and buried everything else.
 */
export class RepeatedFailure {
  private failing: { since: number; told: number; times: number; reason: string } | undefined;

  constructor(
    private readonly log: Logger,
    /** What failed, e.g. "the outbox worker could not claim jobs". */
    private readonly what: string,
    private readonly now: () => number = () => performance.now(),
  ) {}

  failed(err: unknown): void {
    const reason = describeError(err);
    const at = this.now();
    const f = this.failing;
    if (f === undefined) {
      this.failing = { since: at, told: at, times: 1, reason };
      this.log.error({ err: reason }, `${this.what}; it tries again`);
      return;
    }
    f.times++;
    if (reason === f.reason && at - f.told < REMIND_EVERY_MS) return;
    f.reason = reason;
    f.told = at;
    this.log.error({ err: reason, times: f.times, forMs: Math.round(at - f.since) }, `${this.what}; it tries again`);
  }

  succeeded(): void {
    const f = this.failing;
    if (f === undefined) return;
    this.failing = undefined;
    this.log.info({ times: f.times, forMs: Math.round(this.now() - f.since) }, `${this.what} no longer: it works again`);
  }
}
