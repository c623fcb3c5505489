import { AbortError } from 'p-retry';
import { describeError, errorCodesUnder, isHubError, type HubErrorCode } from '../errors.js';
import { isRateLimited, type SendOutcome } from '../providers/answer-outcome.js';
import { cutText, oneLine } from '../providers/cut-text.js';

// Read where the provider client reads them too (a lower layer); named here for the outbox's callers.
export { isRateLimited, outcomeOf, parseRetryAfter, type SendOutcome } from '../providers/answer-outcome.js';

export type Verdict =
  | { kind: 'done' }
  /** `paced`: the provider asked to slow down (429); not a failure, so it spends no attempt (STYLE.md §7). */
  | { kind: 'retry'; error: string; retryAfterMs?: number; paced?: true }
  /** `code`: the hub's error code, when a hub error (not the provider's answer) made it fail. */
  | { kind: 'fail'; error: string; code?: HubErrorCode }
  | { kind: 'unconfirmed'; error: string };

const MESSAGE_CHARS = 500;

/**
 * 2xx: done. 408, 429 and 5xx: sent again later (RFC 9110 §15.5.9, RFC 6585 §4; a 5xx is taken as
 * not applied, as Stripe and GitHub document for theirs, except a gateway's 502 or 504 for a job
 * that cannot be replayed safely: `sent_unconfirmed`); a 403 that is a rate limit (isRateLimited)
 * is pacing, as a 429 is. Any other status is the provider refusing
 * this write: `failed` at once with its message, since sending it again gets the same answer.
 * `resent`: an earlier send of the job left (a 409 then may be that send still under way).
 * `sensitive`: the error names the status only. A provider's message often echoes the arguments
 * ("recipient x@y is blocked"), and the error is stored in plaintext (`last_error`, `queue list`)
 * and logged; the whole answer is kept sealed in the job's result, where its owner reads it.
 */
export function classifyResponse(o: SendOutcome, sensitive = false, replaySafe = true, resent = false): Verdict {
  if (o.status >= 200 && o.status < 300) {
    if (o.refused === undefined) return { kind: 'done' };
    // Refused in a 2xx: as a 4xx, failed at once (the same request would be refused again).
    return {
      kind: 'fail',
      error: sensitive
        ? `the provider refused it (${o.status}; its answer is sealed with the job: sensitive)`
        : `the provider refused it: ${cutText(o.refused, MESSAGE_CHARS)}`,
    };
  }
  const error = sensitive
    ? `the provider answered ${o.status} (its answer is sealed with the job: sensitive)`
    : `the provider answered ${o.status}${o.body ? `: ${cutText(oneLine(o.body), MESSAGE_CHARS)}` : ''}`;
  const limited = isRateLimited(o);
  // A gateway's 502 or 504 says the origin behind it did not answer in time or sanely, not that it
  // did nothing: the write may have been applied, as after a timeout or a reset connection, so a
  // job that cannot be replayed safely is not sent again. The origin's own 500 or 503 is taken as
  // not applied (below).
  if ((o.status === 502 || o.status === 504) && !replaySafe) return { kind: 'unconfirmed', error: `${error}${UNCONFIRMED}` };
  // The provider keeps the first answer to an idempotency key and replays it (Stripe, for 24 h, 5xx
  // included): every resend under the job's key would get this 5xx again until the job is dead.
  if (o.replayed === true && o.status >= 500) return { kind: 'fail', error: `${error}${REPLAYED}` };
  // A resend under the job's idempotency key may reach the provider while the send before it (one
  // the hub stopped waiting for, or whose connection dropped) is still being executed: Stripe then
  // answers 409 `idempotency_key_in_use` and saves nothing, and draft-ietf-httpapi-idempotency-key-header
  // §2.6 has every server answer so. Not the write refused: failed, it told the caller so while
  // the first send went on to apply it. Sent again later, it gets that send's answer. Replay-safe
  // jobs only, so a 409 that is the write's own conflict still ends, as `dead`, after maxAttempts.
  if (o.status === 409 && resent && replaySafe) return { kind: 'retry', error: `${error}${OVERLAPPED}` };
  if (o.status === 408 || limited || o.status >= 500)
    return {
      kind: 'retry',
      error,
      ...(o.retryAfterMs === undefined ? {} : { retryAfterMs: o.retryAfterMs }),
      ...(limited ? { paced: true as const } : {}),
    };
  return { kind: 'fail', error };
}

const UNCONFIRMED = ' (the provider may have applied it; it takes no idempotency key, so it is not sent again)';
const OVERLAPPED = ' (an earlier send of this write under its idempotency key may still be under way at the provider; it is sent again later)';
const REPLAYED =
  " (the provider replayed the answer it saved for this write's idempotency key, so sending it again would get the same one; it was not sent again)";

/** Socket errors raised before a byte of the request left: sending again cannot write twice. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
/** Failures after which the provider may have applied the write (a timeout, a reset connection). */
const AMBIGUOUS: ReadonlySet<HubErrorCode> = new Set(['provider_timeout', 'provider_unreachable']);

function neverSent(err: unknown): boolean {
  return errorCodesUnder(err).some((code) => NOT_SENT.has(code));
}

/**
 * Marks an error whose message is the hub's own words, naming no argument and quoting no provider
 * (SiteMoved: a relink moved the job's connection to another site). Such a message is kept for a
 * sensitive job too, so that `queue list` says why it failed; any other stays withheld.
 */
export interface InOwnWords {
  readonly ownWords: true;
}

function inOwnWords(err: unknown): boolean {
  return isHubError(err) && 'ownWords' in err && err.ownWords === true;
}

/** A thrown error without its message (which may quote a URL or a handler's arguments): its code only. */
function codeOf(err: unknown): string {
  if (isHubError(err)) return err.code;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * A send that threw. p-retry's AbortError and a hub error that is not retryable (a revoked
 * connection) fail the job at once. A failure that may have happened after the provider applied
 * the write is retried only for a replay-safe job; any other becomes `sent_unconfirmed`.
 * `sensitive`: the error keeps the code only, as `classifyResponse` keeps the status only, unless
 * its message is the hub's own words (InOwnWords).
 */
export function classifyError(err: unknown, replaySafe: boolean, sensitive = false): Verdict {
  const error = sensitive && !inOwnWords(err) ? `the send failed (${codeOf(err)}; details withheld: sensitive)` : describeError(err);
  if (err instanceof AbortError) return { kind: 'fail', error };
  if (isHubError(err) && !err.spec.retryable) return { kind: 'fail', error, code: err.code };
  if (neverSent(err) || (isHubError(err) && !AMBIGUOUS.has(err.code))) return { kind: 'retry', error };
  return replaySafe ? { kind: 'retry', error } : { kind: 'unconfirmed', error: `${error}${UNCONFIRMED}` };
}
