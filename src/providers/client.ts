import { systemClock, type Clock } from '../clock.js';
import { jsonAnswer, refusedBecause, refusesCredentials, type Refusal } from '../definition/refusal.js';
import { HubError, isHubError } from '../errors.js';
import { bodyNamedWaitMs, isRateLimited, outcomeOf } from './answer-outcome.js';
import { capBody } from './body-limit.js';
import type { Credential, Credentials } from './credentials.js';
import { cutText, oneLine } from './cut-text.js';
import { headerRecord, setHeader } from './header-record.js';
import { Deadline, realSleep, type Sleep } from './deadline.js';
import { bufferedBytesLeft, bufferedResponse } from './node-fetch.js';
import { PacingTooLong, acquireWithin, noPacing, type Pacer } from './pacing.js';
import { nextHop, tooManyRedirects, type Hop } from './redirects.js';
import { RETRY_STATUSES, RetryableFailure, RetryableResponse, defaultBackoff, withRetries } from './retry.js';
import { resolveInScope, scopeOf } from './scope.js';

export interface ProviderLimits {
  /** How long one request may take to answer, body included; one that does not is not retried. */
  timeoutMs: number;
  /** The body is cut past this many (decoded) bytes. */
  maxResponseBytes: number;
  /** Further attempts for requests safe to repeat. */
  retries: number;
  maxRedirects: number;
  /** A longer Retry-After is not waited out: the 429/503 is the answer. */
  maxRetryAfterMs: number;
}

export const DEFAULT_LIMITS: ProviderLimits = { timeoutMs: 30_000, maxResponseBytes: 10 * 1024 * 1024, retries: 2, maxRedirects: 5, maxRetryAfterMs: 60_000 };

export interface ProviderClientOptions {
  fetch?: typeof globalThis.fetch;
  clock?: Clock;
  sleep?: Sleep;
  pacer?: Pacer;
  backoffMs?: (attempt: number) => number;
  limits?: Partial<ProviderLimits>;
}

/** Who is called and as whom: one API, one set of credentials. */
export interface ProviderTarget {
  /** Names the provider in errors, e.g. the integration's title. */
  label: string;
  apiBaseUrl: string;
  credentials: Credentials;
  /** The pacer's key, e.g. `github:<connection id>`. */
  paceKey: string;
  /** Every request of this caller is safe to repeat (a tool declared `idempotent`). */
  idempotent?: boolean;
  /**
   * The waits between attempts (Retry-After, backoff) end within `timeoutMs` in all, not only each
   * within `maxRetryAfterMs`: a tool call's client gives up after its own request timeout (60 s in
   * the MCP SDKs), so two waits of 30 s answered it "Request timed out" rather than the provider's
   * 429 with when to retry. A wait past what is left makes the last answer the caller's.
   */
  waitsWithinTimeout?: boolean;
  limits?: Partial<ProviderLimits>;
  /**
   * How the provider refuses in a 2xx answer (the integration's `refusal`): one whose reason it
   * lists as `unauthorized` (Slack's `invalid_auth`) is read as a 401 is, the token refreshed once.
   */
  refusal?: Refusal | undefined;
  /** The caller's cancellation, e.g. the MCP request's. */
  signal?: AbortSignal;
  /**
   * Run once per bound fetch, after the first request's pacing token is granted and before it
   * leaves (the outbox commits `sending` here, so a job waiting for its token is still unsent).
   * Later requests of the same bound fetch (a handler's) do not run it again. If it throws,
   * nothing is sent and the error is the request's.
   */
  beforeSend?: () => Promise<void>;
}

/** A fetch bound to a target: paths resolve against its API base. */
export type ProviderFetch = (path: string, init?: RequestInit) => Promise<Response>;

export interface ProviderClient {
  bind(target: ProviderTarget): ProviderFetch;
  /** Like a bound fetch, but the deadline ends once the headers are in (for streamed answers). */
  open(target: ProviderTarget, path: string, init?: RequestInit): Promise<Response>;
}

// RFC 9110 §9.2.2: GET and HEAD are safe, hence repeatable. PUT and DELETE are idempotent by the
// spec, but many APIs do not honour that; a tool opts in with `idempotent`.
const SAFE = new Set(['GET', 'HEAD']);

/**
 * The one way the hub calls a provider API: credentials injected, one deadline, the body capped
 * while it streams, redirects followed by hand inside the API base only, repeatable requests
 * retried honouring Retry-After, one refresh per token version after a 401, and a pacing hook.
 * Writes are never sent twice here: the outbox owns their retries.
 */
export function createProviderClient(opts: ProviderClientOptions = {}): ProviderClient {
  const baseFetch = opts.fetch ?? globalThis.fetch;
  const clock = opts.clock ?? systemClock;
  const sleep = opts.sleep ?? realSleep;
  const pacer = opts.pacer ?? noPacing;
  const backoffMs = opts.backoffMs ?? defaultBackoff;

  async function call(t: ProviderTarget, path: string, init: RequestInit, streamed: boolean): Promise<Response> {
    const limits: ProviderLimits = { ...DEFAULT_LIMITS, ...opts.limits, ...t.limits };
    const scope = scopeOf(t.apiBaseUrl);
    const first: Hop = { url: resolveInScope(scope, path), method: (init.method ?? 'GET').toUpperCase(), body: init.body, bodyDropped: false };
    const repeatable = (SAFE.has(first.method) || t.idempotent === true) && !(init.body instanceof ReadableStream);
    const deadline = new Deadline(limits.timeoutMs, t.label, [t.signal, init.signal]);
    const { signal } = deadline;

    const exchange = async (cred: Credential): Promise<Response> => {
      // Armed per exchange: a token refresh before it is the token manager's to bound.
      deadline.arm();
      let hop = first;
      for (let n = 0; ; n++) {
        const headers = headerRecord(init.headers);
        for (const [k, v] of Object.entries(cred.headers)) setHeader(headers, k, v);
        if (hop.bodyDropped) for (const h of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) delete headers[h];
        const res = await baseFetch(hop.url, { ...init, method: hop.method, body: hop.body ?? null, headers, redirect: 'manual', signal });
        const next = nextHop(scope, t.label, hop, res);
        if (next === undefined) return res;
        await res.body?.cancel().catch(() => {});
        if (n >= limits.maxRedirects) throw tooManyRedirects(t.label, limits.maxRedirects);
        hop = next;
      }
    };

    /**
     * Why an answer refuses the credential: a 401, or a 2xx whose body the integration's refusal
     * reads as a dead token (Slack's `{"ok":false,"error":"invalid_auth"}`, which comes with HTTP
     * 200). Such a body is read whole here (under the size cap), and the answer handed on buffered.
     */
    const refusedCredential = async (r: Response): Promise<{ res: Response; why?: string }> => {
      if (r.status === 401) return { res: r, why: 'HTTP 401' };
      if (streamed || t.credentials.mode === 'none' || t.refusal?.unauthorized === undefined || r.status < 200 || r.status > 299) return { res: r };
      const ct = r.headers.get('content-type')?.toLowerCase() ?? '';
      if (!ct.includes('json')) return { res: r };
      const read = await whole(r);
      const reason = refusedBecause(t.refusal, jsonAnswer(ct, new TextDecoder().decode(bufferedBytesLeft(read))));
      return refusesCredentials(t.refusal, reason) ? { res: read, why: reason! } : { res: read };
    };

    // A refusal of a freshly refreshed token is not tried again: the provider revoked the grant or
    // disabled the account, and another refresh would only spend a rotating refresh token. Linking
    // again is the only way forward: the credentials mark the connection so and throw that answer.
    const refusedAgain = async (r: Response, renewed: Credential, why: string): Promise<HubError> => {
      const said = r.status === 401 ? (await readSome(r, 500)).trim() : '';
      // The reason is stored with the connection and shown by `connections list`: one short line.
      await t.credentials.refusedAfterRenewal?.(renewed, said ? `${why}: ${cutText(oneLine(said), 200)}` : why);
      const what = r.status === 401 ? '401' : why;
      return new HubError('provider_unauthorized', `${t.label} refused the credentials again after they were refreshed (${what})${said ? `: ${said}` : ''}`, {
        details: { status: r.status, mode: t.credentials.mode },
      });
    };

    // A caller waiting for the answer is not held for its pacing token longer than it would wait
    // out a Retry-After, nor than its deadline (not yet armed): it hears when to try again. A
    // queued job (`beforeSend`) waits for its token, still unsent.
    const bounded = t.beforeSend === undefined;
    const paceWithin = Math.min(limits.maxRetryAfterMs, limits.timeoutMs);
    const acquire = async (): Promise<void> => {
      if (!bounded) return pacer.acquire(t.paceKey, signal);
      try {
        await acquireWithin(pacer, t.paceKey, signal, paceWithin, limits.timeoutMs);
      } catch (err) {
        if (!(err instanceof PacingTooLong)) throw err;
        throw pacingRefusal(t.label, err.waitMs, limits.timeoutMs, clock.now());
      }
    };

    const attempt = async (): Promise<Response> => {
      await acquire();
      if (t.beforeSend !== undefined) {
        try {
          await t.beforeSend();
        } catch (err) {
          // The token is spent, but the concurrency slot `acquire` took is freed.
          pacer.observe?.(t.paceKey, undefined);
          throw err;
        }
      }
      let res: Response | undefined;
      let bodyWaitMs: number | undefined;
      try {
        const cred = await t.credentials.current();
        res = await exchange(cred);
        const first = await refusedCredential(res);
        res = first.res;
        if (first.why !== undefined && t.credentials.mode !== 'none') {
          // RFC 6750 §3.1: a 401 says the request was refused before it was acted on, so resending
          // it once with a renewed token is safe even for a write (as it is after Slack's
          // invalid_auth). The refresh is not the API's time: the timer stops while it runs (the
          // token manager bounds it), and the resend gets a deadline of its own.
          deadline.stopTimer();
          const renewed = await t.credentials.renew(cred, first.why);
          if (renewed === undefined) {
            // No newer credential (e.g. the token endpoint is down): the 401, body unread, is the
            // answer, so the caller can show the provider's own words, read under a deadline again.
            deadline.arm();
            return res;
          }
          await res.body?.cancel().catch(() => {});
          res = await exchange(renewed);
          const again = await refusedCredential(res);
          res = again.res;
          if (again.why !== undefined) throw await refusedAgain(res, renewed, again.why);
        }
        // A rate limit whose wait only its body names (GitHub's secondary limit, no Retry-After):
        // read whole before the pacer hears the answer, so the account's bucket holds every request
        // back for that wait, a write's as a read's, and not only this request's retry.
        if (!streamed && (res.status === 429 || res.status === 403) && !namesWait(res, clock.now())) {
          res = await whole(res);
          bodyWaitMs = bodyNamedWaitMs(res.status, new TextDecoder().decode(bufferedBytesLeft(res)));
        }
      } catch (err) {
        // A body dropped while refusedCredential read it is already said as such (and retryable when the request is).
        if (signal.aborted || isHubError(err) || err instanceof RetryableFailure) throw err;
        // fetch rejects with a TypeError when the connection failed: nothing is known to have arrived.
        const failure = new HubError('provider_unreachable', `${t.label} could not be reached`, { cause: err });
        if (repeatable) throw new RetryableFailure(failure);
        throw failure;
      } finally {
        pacer.observe?.(t.paceKey, res && { status: res.status, headers: res.headers, ...(bodyWaitMs === undefined ? {} : { bodyWaitMs }) });
      }
      if (!repeatable) return res;
      // A 429 or 403 may be a rate limit whose wait only its body names (GitHub's secondary limit:
      // "wait at least one minute"), and a 403 may be one at all: read whole as the outbox reads it
      // and tried again after the wait it names (a spent window's reset too), not after a backoff.
      if (!streamed && (res.status === 429 || res.status === 403)) {
        const read = await whole(res);
        const answer = outcomeOf(read, new TextDecoder().decode(bufferedBytesLeft(read)), clock.now());
        if (isRateLimited(answer)) throw new RetryableResponse(read, answer.retryAfterMs);
        return read;
      }
      // Without a Retry-After, a spent window's reset (GitHub answers its primary limit with 429 and
      // X-RateLimit-Remaining: 0, the reset an hour off) is the wait: a retry after the backoff would
      // only be refused again.
      if (RETRY_STATUSES.has(res.status)) throw new RetryableResponse(res, outcomeOf(res, '', clock.now()).retryAfterMs);
      return streamed ? res : whole(res);
    };

    // A connection dropped mid-body (or a body that does not decode) is a dropped connection, as
    // one dropped before the headers: not the caller's failure, and worth another try.
    const dropped = (err: unknown): unknown =>
      signal.aborted || isHubError(err)
        ? err
        : new HubError('provider_unreachable', `${t.label} dropped the connection while sending its answer`, { cause: err });

    // A repeatable request's body is read within its attempt (under the size cap), so a connection
    // dropped mid-body is retried like one dropped before the headers.
    const whole = async (res: Response): Promise<Response> => {
      if (bufferedBytesLeft(res) !== undefined) return res;
      try {
        const capped = capBody(res, limits.maxResponseBytes, t.label, () => {}, dropped);
        const bytes = new Uint8Array(await capped.arrayBuffer());
        return bufferedResponse(bytes, { status: res.status, statusText: res.statusText, headers: res.headers });
      } catch (err) {
        await res.body?.cancel().catch(() => {});
        const why = dropped(err);
        throw isHubError(why) && why.code === 'provider_unreachable' ? new RetryableFailure(why) : why;
      }
    };

    try {
      const res = await withRetries(attempt, {
        retries: repeatable ? limits.retries : 0,
        clock,
        sleep,
        signal,
        backoffMs,
        maxRetryAfterMs: limits.maxRetryAfterMs,
        ...(t.waitsWithinTimeout === true ? { maxTotalWaitMs: limits.timeoutMs } : {}),
        beforeWait: () => deadline.stopTimer(),
      });
      if (streamed) {
        // The caller's cancel still ends the stream; an idle timeout takes over from the deadline.
        deadline.stopTimer();
        return res;
      }
      return capBody(
        res,
        limits.maxResponseBytes,
        t.label,
        (reason) => deadline.finish(reason),
        (err) => dropped(deadline.explain(err)),
      );
    } catch (err) {
      const why = deadline.explain(err);
      deadline.finish();
      throw why;
    }
  }

  return {
    bind: (t) => {
      const hook = t.beforeSend;
      let ran: Promise<void> | undefined;
      // Once per bound fetch: every later request waits on (or fails with) the first one's.
      const bound: ProviderTarget = hook === undefined ? t : { ...t, beforeSend: () => (ran ??= hook()) };
      return (path, init = {}) => call(bound, path, init, false);
    },
    open: (t, path, init = {}) => call(t, path, init, true),
  };
}

/**
 * A call refused before it was sent: the provider's rate limit (as it last answered) grants no
 * request for longer than the call may wait. Retryable, as the provider's own 429 would be.
 */
function pacingRefusal(label: string, waitMs: number | undefined, withinMs: number, now: number): HubError {
  const when =
    waitMs === undefined
      ? `no request may be sent within ${withinMs} ms`
      : `no request may be sent before ${new Date(now + waitMs).toISOString()}; retry after ${Math.ceil(waitMs / 1000)} s`;
  return new HubError('source_unavailable', `the rate limit of ${label} is spent: ${when} (nothing was sent)`, {
    details: waitMs === undefined ? { waitedMs: withinMs } : { retryAfterMs: waitMs },
  });
}

/** Whether an answer's headers speak of its wait: a Retry-After, or a spent window (the bucket follows those). */
function namesWait(res: Response, now: number): boolean {
  const o = outcomeOf(res, '', now);
  return o.retryAfterMs !== undefined || o.limitSpent === true;
}

/** Up to `max` characters of a body (an error's explanation), the rest cancelled. */
export async function readSome(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // What arrived is enough to explain the refusal.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return cutText(text, max);
}
