import { jsonAnswer, refusedBecause, refusesCredentials, type Refusal } from '../definition/refusal.js';

/*
 * A provider's answer read for what it says about retrying: the provider client (a read retried on a
 * rate-limit 403) and the outbox (a write's verdict, src/outbox/classify.ts) read it the same way.
 */

/** What a send function reports: the provider's answer, and how long it asked to wait (Retry-After). */
export interface SendOutcome {
  status: number;
  body: string;
  retryAfterMs?: number;
  /** The provider said its rate limit is spent (`X-RateLimit-Remaining: 0`): a 403 then is a rate limit. */
  limitSpent?: true;
  /** A 2xx answer whose body says the request was refused (the integration's `refusal`, Slack's `ok: false`): its reason. */
  refused?: string;
  /** That reason is one the integration lists as its token refused (`refusal.unauthorized`, Slack's `invalid_auth`): as a 401. */
  refusedCredentials?: true;
  /**
   * The provider answered with what it saved for this request's idempotency key, not by running it
   * again (`Idempotent-Replayed: true`, Stripe): the same key gets the same answer, 5xx included.
   */
  replayed?: true;
}

/** GitHub's words for its secondary rate limit ("You have exceeded a secondary rate limit. Please wait a few minutes…"). */
const SECONDARY_LIMIT = /exceeded a secondary rate limit/i;
/** "Otherwise, wait for at least one minute before retrying" (GitHub's REST API docs, rate limits). */
export const SECONDARY_LIMIT_WAIT_MS = 60_000;

/**
 * A rate window's remaining count and reset, as providers spell them: `X-RateLimit-*` (GitHub and
 * most), `RateLimit-*` (the IETF draft), `X-Rate-Limit-*` (X, formerly Twitter: "x-rate-limit-reset:
 * Unix timestamp when the limit resets", its 429s carrying no Retry-After). Read a family whole:
 * one's count is never paired with another's reset.
 */
const WINDOW_HEADERS = [
  { remaining: 'x-ratelimit-remaining', reset: 'x-ratelimit-reset' },
  { remaining: 'ratelimit-remaining', reset: 'ratelimit-reset' },
  { remaining: 'x-rate-limit-remaining', reset: 'x-rate-limit-reset' },
] as const;

/**
 * A provider's answer as the outbox keeps it: status, body, how long it asked to wait. Retry-After
 * first; with none, a spent window (`X-RateLimit-Remaining: 0`) names its reset
 * (`X-RateLimit-Reset`, epoch seconds at GitHub, seconds to wait elsewhere).
 */
export function outcomeOf(res: Response, body: string, now: number, refusal?: Refusal): SendOutcome {
  const h = res.headers;
  const window = WINDOW_HEADERS.find((w) => h.has(w.remaining));
  const spent = window !== undefined && h.get(window.remaining)?.trim() === '0';
  let retryAfterMs = parseRetryAfter(h.get('retry-after'), now);
  if (retryAfterMs === undefined && spent) {
    const reset = h.get(window.reset);
    if (reset !== null && /^\s*\d+\s*$/.test(reset)) {
      const n = Number(reset);
      const at = n >= 1e12 ? n : n >= 1e9 ? n * 1000 : now + n * 1000;
      retryAfterMs = Math.max(0, at - now);
    }
  }
  if (retryAfterMs === undefined && !spent) retryAfterMs = bodyNamedWaitMs(res.status, body);
  // A refusal is read from a 2xx only (any other status already fails as what it is), and only
  // from an integration that declares one: no other write's body is parsed here.
  const declared = refusal !== undefined && res.status >= 200 && res.status <= 299;
  // RFC 9110 §8.3.1: a media type is case-insensitive (`Application/JSON` is JSON too).
  const refused = declared ? refusedBecause(refusal, jsonAnswer(h.get('content-type')?.toLowerCase() ?? null, body)) : undefined;
  const replayed = h.get('idempotent-replayed')?.trim().toLowerCase() === 'true';
  return {
    status: res.status,
    body,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(spent ? { limitSpent: true as const } : {}),
    ...(refused === undefined ? {} : { refused }),
    ...(refusesCredentials(refusal, refused) ? { refusedCredentials: true as const } : {}),
    ...(replayed ? { replayed: true as const } : {}),
  };
}

/**
 * The wait a rate-limit answer names in its body alone, for one whose headers name none (no
 * Retry-After, no spent window). GitHub's secondary limit may name no wait at all; its docs then ask
 * for at least a minute before the next request (a retry after a short backoff is refused again,
 * and continuing to send while limited may get the integration banned).
 */
export function bodyNamedWaitMs(status: number, body: string): number | undefined {
  return (status === 403 || status === 429) && SECONDARY_LIMIT.test(body) ? SECONDARY_LIMIT_WAIT_MS : undefined;
}

/**
 * A 403 that is a rate limit, not a refusal: GitHub answers its primary limit with 403 and
 * `X-RateLimit-Remaining: 0`, its secondary limit with 403 and Retry-After; Google with 403
 * `rateLimitExceeded` / `userRateLimitExceeded`, Salesforce with 403 `REQUEST_LIMIT_EXCEEDED`.
 */
const LIMIT_BODY = /\b(?:user)?rateLimitExceeded\b|\bREQUEST_LIMIT_EXCEEDED\b|rate limit exceeded|exceeded a (?:secondary|primary) rate limit/i;
export function isRateLimited(o: SendOutcome): boolean {
  if (o.status === 429) return true;
  return o.status === 403 && (o.retryAfterMs !== undefined || o.limitSpent === true || LIMIT_BODY.test(o.body));
}

/**
 * Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `now`; undefined when
 * unreadable. Seconds with a fraction are read as such (Shopify sends `Retry-After: 2.0`). Any other
 * number (a negative one) is no date, though Date.parse reads one ("1.5" as 5 January 2001, "-1" as
 * 2001): a wait of nothing, so the retry went at once into the rate limit.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  if (/^[-+\d.\s]*$/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
