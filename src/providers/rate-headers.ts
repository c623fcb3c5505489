import type { Clock } from '../clock.js';
import { retryAfterMs } from './retry.js';

/** What a response says about the caller's budget at the provider. */
export interface RateBudget {
  limit: number;
  remaining: number;
  /** Epoch ms when the budget is whole again; undefined when the provider did not say. */
  resetAt: number | undefined;
}

const count = (v: string | null): number | undefined => (v !== null && /^\s*\d+\s*$/.test(v) ? Number(v) : undefined);

/**
 * `X-RateLimit-Limit` / `-Remaining` / `-Reset`, the de-facto headers (GitHub, the sandbox; the
 * IETF RateLimit draft names them without the X-). X's `X-Rate-Limit-*` are not read here: X keeps
 * a window per endpoint, so one endpoint's would scale or pause the account's bucket for all; its
 * spent window still sets when that request is sent again (outcomeOf). `Reset` is epoch seconds at
 * GitHub and seconds-to-wait elsewhere: a value past 2001-09-09 in epoch seconds (1e9) cannot be a
 * wait, so it is read as a time. Undefined when limit and remaining are not both there.
 */
export function rateBudgetOf(headers: Headers, clock: Clock): RateBudget | undefined {
  const limit = count(headers.get('x-ratelimit-limit') ?? headers.get('ratelimit-limit'));
  const remaining = count(headers.get('x-ratelimit-remaining') ?? headers.get('ratelimit-remaining'));
  if (limit === undefined || remaining === undefined || limit === 0) return undefined;
  return { limit, remaining, resetAt: resetAtOf(headers, clock) };
}

function resetAtOf(headers: Headers, clock: Clock): number | undefined {
  const reset = count(headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset'));
  return reset === undefined ? undefined : reset >= 1e12 ? reset : reset >= 1e9 ? reset * 1000 : clock.now() + reset * 1000;
}

/**
 * When a spent window reopens, read from `Remaining: 0` and its reset alone: a provider that sends
 * no `Limit` beside them (rateBudgetOf needs it) still says nothing may go before the reset, and
 * requests sent into the window only draw refusals. Undefined unless remaining is 0 and a reset is named.
 */
export function spentUntil(headers: Headers, clock: Clock): number | undefined {
  const remaining = count(headers.get('x-ratelimit-remaining') ?? headers.get('ratelimit-remaining'));
  return remaining === 0 ? resetAtOf(headers, clock) : undefined;
}

/**
 * How long a background caller (a poller) should wait before its next request, so that it leaves
 * `reserve` of the budget to the user's own calls: at `remaining <= limit * reserve` it waits for
 * the reset (a minute when the provider names none). `Retry-After` wins when present. Zero: go on.
 */
export function pauseForBudget(headers: Headers, clock: Clock, reserve = 0.3): number {
  const named = retryAfterMs(headers, clock);
  if (named !== undefined) return named;
  const b = rateBudgetOf(headers, clock);
  if (b === undefined || b.remaining > b.limit * reserve) return 0;
  return b.resetAt === undefined ? 60_000 : Math.max(1_000, b.resetAt - clock.now());
}

/**
 * Salesforce's `Sforce-Limit-Info: api-usage=25/15000`: calls used of the org's rolling 24-hour
 * allowance. Its reset is not stated (the window rolls), so `resetAt` is undefined.
 */
export function sforceBudgetOf(headers: Headers): RateBudget | undefined {
  const m = /(?:^|[,;\s])api-usage=(\d+)\/(\d+)/.exec(headers.get('sforce-limit-info') ?? '');
  if (!m) return undefined;
  const used = Number(m[1]);
  const limit = Number(m[2]);
  if (limit === 0) return undefined;
  return { limit, remaining: Math.max(0, limit - used), resetAt: undefined };
}

/**
 * Which of a provider's rate-limit pools an answer's X-RateLimit-* budget speaks of, as a
 * connection's bucket reads it. GitHub counts each request against one pool and names it in
 * `X-RateLimit-Resource` (REST API docs, "Rate limits"): `core` (5,000 an hour) for the REST API at
 * large; `graphql`, an hourly window of points of its own; and small pools apart from both:
 * `search` (30 a minute), `code_search` (10 a minute), and more. Read as the account's budget, a
 * search's `Limit: 30` scaled the bucket to 30/5,000 of its rate and its `Remaining` drained what
 * was at hand, so after one search every call of the account waited minutes for a token.
 * `paced`: no pool named, or `core`: the budget is the bucket's. `window`: a window of its own
 * whose spend and reset still hold the bucket back, but whose size is no change of its limit.
 * `apart`: the budget is that pool's alone (Retry-After is read whatever the pool).
 */
export function rateLimitPool(headers: Headers): 'paced' | 'window' | 'apart' {
  const pool = headers.get('x-ratelimit-resource')?.trim().toLowerCase();
  if (pool === undefined || pool === '' || pool === 'core') return 'paced';
  return pool === 'graphql' ? 'window' : 'apart';
}
