import pRetry, { AbortError } from 'p-retry';
import type { Clock } from '../clock.js';
import { parseRetryAfter } from './answer-outcome.js';
import type { Sleep } from './deadline.js';

/**
 * RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date. A date in the past means now.
 * Returns undefined when the header is absent or unreadable.
 */
export function retryAfterMs(headers: Headers, clock: Clock): number | undefined {
  // One reading of the header for the client, the outbox and the token endpoint (answer-outcome.ts).
  return parseRetryAfter(headers.get('retry-after'), clock.now());
}

/**
 * Statuses that say "not now" rather than "no": 429 and 503 (RFC 9110 §15.6.4, RFC 6585 §4) often
 * with Retry-After, 408, and the gateway errors 502/504. Repeated only for requests safe to repeat.
 */
export const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** A response worth another attempt; when none is left it is handed back as the answer. */
export class RetryableResponse extends Error {
  /** `retryAfterMs`: the wait the answer asks for, when read from more than its Retry-After (a spent window's reset). */
  constructor(
    readonly response: Response,
    readonly retryAfterMs?: number,
  ) {
    super(`provider answered ${response.status}`);
  }
}

/** A failure worth another attempt (a dropped connection); when none is left, `cause` is thrown. */
export class RetryableFailure extends Error {
  constructor(readonly failure: unknown) {
    super('provider unreachable');
  }
}

export interface RetryPolicy {
  retries: number;
  clock: Clock;
  sleep: Sleep;
  signal: AbortSignal;
  /** Pause before retry n (1-based) when the provider named none. */
  backoffMs: (attempt: number) => number;
  /** A longer Retry-After is not waited out here: the response goes back (a queue can reschedule). */
  maxRetryAfterMs: number;
  /** The waits of one call in all: one that would pass it is not made, the last answer goes back. */
  maxTotalWaitMs?: number;
  /** Called before each wait (the per-request deadline stops meanwhile). */
  beforeWait: () => void;
}

export const defaultBackoff = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 4_000);

/**
 * Runs `attempt` with p-retry. `attempt` throws RetryableResponse/RetryableFailure for what may be
 * tried again and anything else for what may not; the waits are ours (Retry-After first, else the
 * backoff) so they run on the injected sleep, and p-retry's own timeouts are zero.
 */
export async function withRetries(attempt: () => Promise<Response>, p: RetryPolicy): Promise<Response> {
  let waited = 0;
  try {
    return await firstThenRetries(
      async () => {
        try {
          return await attempt();
        } catch (err) {
          if (err instanceof RetryableResponse || err instanceof RetryableFailure) throw err;
          throw new AbortError(err instanceof Error ? err : new Error(String(err)));
        }
      },
      {
        retries: p.retries,
        signal: p.signal,
        onFailed: async (error, attemptNumber, retriesLeft) => {
          if (retriesLeft === 0) return;
          const res = error instanceof RetryableResponse ? error.response : undefined;
          const named = res ? ((error as RetryableResponse).retryAfterMs ?? retryAfterMs(res.headers, p.clock)) : undefined;
          const wait = named ?? p.backoffMs(attemptNumber);
          // Past the limit the answer is this response now: a queue can reschedule, a model can say so.
          if (wait > p.maxRetryAfterMs || waited + wait > (p.maxTotalWaitMs ?? Number.POSITIVE_INFINITY)) throw error;
          waited += wait;
          await res?.body?.cancel().catch(() => {});
          p.beforeWait();
          await p.sleep(wait, p.signal);
        },
      },
    );
  } catch (err) {
    if (err instanceof RetryableResponse) return err.response;
    if (err instanceof RetryableFailure) throw err.failure;
    throw err;
  }
}

export interface RetryRun {
  /** Further attempts after the first. */
  retries: number;
  signal: AbortSignal;
  /** p-retry's `onFailedAttempt`, for every attempt that failed with an error other than AbortError: it waits before the next, or throws to end. */
  onFailed: (error: unknown, attemptNumber: number, retriesLeft: number) => Promise<void>;
}

/**
 * p-retry with waits of our own (p-retry's timeouts zero), its first attempt made as p-retry makes
 * it (the signal checked before and after a success, an AbortError's cause thrown) without its
 * per-call set-up: most calls need no other attempt, and agent calls and writes have none.
 * `attempt` throws AbortError for what is not to be tried again.
 */
export async function firstThenRetries<T>(attempt: () => Promise<T>, o: RetryRun): Promise<T> {
  o.signal.throwIfAborted();
  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    if (err instanceof AbortError) throw err.originalError;
    if (o.retries === 0) throw err;
    await o.onFailed(err, 1, o.retries);
    return await pRetry(attempt, {
      retries: o.retries - 1,
      minTimeout: 0,
      maxTimeout: 0,
      signal: o.signal,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => o.onFailed(error, attemptNumber + 1, retriesLeft),
    });
  }
  o.signal.throwIfAborted();
  return result;
}
