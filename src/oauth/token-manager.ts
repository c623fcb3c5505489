import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ConnectionRepository } from '../connections/repository.js';
import type { Connection, TokenSet } from '../connections/types.js';
import { HubError, describeError } from '../errors.js';
import { OAuthGrantError, OAuthTransientError, type OAuthClient } from './client.js';
import { newOwnerId, ownerIsDead } from './owner.js';
import { refusalNotAboutGrant } from './refusal.js';
import { within } from '../within.js';

export interface TokenManagerOptions {
  store: ConnectionRepository;
  clock: Clock;
  log: Logger;
  clientFor: (integration: string) => OAuthClient;
  /** Refresh this long before the access token expires. */
  marginMs?: number;
  /**
   * How long a refresh claim holds before others may take over. It covers the token endpoint's
   * answer and then the saving of the new token set, retried while the claim holds (see `commit`).
   */
  leaseMs?: number;
  /** How often a waiter re-reads a connection another process is refreshing. */
  pollMs?: number;
  /** Attempts at the token endpoint on network or 5xx failures. */
  attempts?: number;
  /** Pause before retry n (1-based), unless the provider said Retry-After. */
  backoffMs?: (attempt: number) => number;
  /**
   * A longer Retry-After from the token endpoint is not waited out: every call on the connection
   * waits on the refresh, so it fails (or goes on with a still-valid token) at once instead.
   */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told when a connection changes state (e.g. to needs_reauth), so clients can be informed. */
  onStateChange?: (c: Connection) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The claim on a refresh: a minute, so that after the token endpoint's answer (usually within a
 * second or two) the new token set can still be saved through a PostgreSQL restart or failover
 * (tens of seconds) before any other caller may send the refresh token it replaced.
 */
const DEFAULT_LEASE_MS = 60_000;
/** Saves stop this long before the claim ends: the last one lands before another replica may claim. */
const SAVE_MARGIN_MS = 2_000;
/** The longest pause between saves: the store is tried again every few seconds once it is back. */
const SAVE_RETRY_MAX_MS = 2_000;

/**
 * How long a stopping hub waits for refreshes in flight (`drain`): a token endpoint answers within
 * a second or two, and it comes after the outbox's 15 s grace, within the 20 s servers/shutdown.ts
 * gives a stop.
 */
const DRAIN_MS = 4_000;

/** Why a refresh is wanted: the access token is (about to be) expired, or the API refused it with a 401. */
type RefreshTrigger = 'expiring' | 'unauthorized';

/**
 * What happened when there is no refresh token to send: said as it is, since the token endpoint
 * was never called (an "invalid_grant" here would send an operator looking for a refusal that
 * never happened).
 */
function noRefreshTokenReason(trigger: RefreshTrigger, said: string): string {
  const what = trigger === 'unauthorized' ? `the provider refused the access token (${said})` : 'the access token has expired';
  return `${what} and there is no refresh token to get a new one (the provider issued none); link the account again`;
}

/**
 * 429 and 503 say the request was turned away, and so does a 200 naming an error (Slack's
 * `ok:false` "ratelimited"): no token was issued. A dropped connection, a timeout or another 5xx
 * (a gateway's 502/504, a crash after the new tokens were stored) leaves open whether the
 * provider rotated the refresh token.
 */
function answeredWithoutActing(err: OAuthTransientError): boolean {
  return err.status === 429 || err.status === 503 || err.status === 200;
}

/** A refresh the token endpoint asked to put off for `leftMs`: the caller is told how long. */
function tooSoon(integration: string, why: string, leftMs: number, cause?: unknown): HubError {
  return new HubError(
    'token_refresh_failed',
    `could not refresh the ${integration} token: ${why} and asked for ${Math.ceil(leftMs / 1000)} s before another try; try again later`,
    { ...(cause === undefined ? {} : { cause }), details: { retryAfterMs: leftMs } },
  );
}

export function unavailable(c: Connection): HubError {
  const code = c.state === 'revoked' ? 'connection_revoked' : 'connection_needs_reauth';
  return new HubError(code, `the ${c.integration} connection is ${c.state.replace('_', ' ')}${c.reason ? `: ${c.reason}` : ''}`, {
    details: { connection: c.id, integration: c.integration, state: c.state },
  });
}

/**
 * Hands out access tokens and refreshes them: before expiry (a margin) and once after a 401.
 * Exactly one refresh per connection runs at a time — coalesced in-process, and across processes
 * by a lease row claimed before the token endpoint is called. A new token set is committed
 * before anyone uses it; a provider that omits the refresh token keeps the old one.
 */
export class TokenManager {
  readonly owner = newOwnerId();
  private readonly inflight = new Map<string, Promise<TokenSet>>();
  /**
   * Connection → until when the token endpoint asked not to be called for its token version (a
   * Retry-After past the cap). Until then a refresh is answered here, without a request: every
   * call on the connection would otherwise send one more refresh into the provider's rate limit.
   * Kept in this process; another process learns it from its own first refused request.
   */
  private readonly notBefore = new Map<string, { at: number; version: number; why: string }>();
  private readonly margin: number;
  private readonly lease: number;
  private readonly poll: number;
  private readonly attempts: number;
  private readonly maxRetryAfter: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private stopping = false;

  constructor(private readonly opts: TokenManagerOptions) {
    this.margin = opts.marginMs ?? 60_000;
    this.lease = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.poll = opts.pollMs ?? 50;
    this.attempts = opts.attempts ?? 3;
    // Well inside the lease, so a wait never lets another process take over a refresh still running.
    this.maxRetryAfter = opts.maxRetryAfterMs ?? 10_000;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** A usable access token for the connection, refreshed first when it is about to expire. */
  async accessToken(connectionId: string): Promise<string> {
    return (await this.credential(connectionId)).accessToken;
  }

  /** A usable access token and the version of the token set it belongs to. */
  async credential(connectionId: string): Promise<{ accessToken: string; version: number }> {
    const c = await this.active(connectionId);
    const current = await this.opts.store.tokens(c);
    if (!this.expiring(c, current)) return { accessToken: current.accessToken, version: c.tokenVersion };
    // Nothing to refresh with: the token serves until it expires (or the API refuses it), not a margin less.
    if (!current.refreshToken && this.stillValid(current)) return { accessToken: current.accessToken, version: c.tokenVersion };
    await this.refresh(c, 'expiring');
    return this.latest(connectionId);
  }

  /**
   * After the API answered 401 to the token of `version` (RFC 6750 §3.1 invalid_token): one refresh
   * per token version. Concurrent 401s to one version share a refresh (coalesced in-process, leased
   * across processes); a 401 to a version already replaced takes the newer token without refreshing.
   * The same version back means no new token could be had (the endpoint is down, the token unexpired).
   * `said`: how the API refused it, for the reason a connection without a refresh token is given.
   */
  async afterUnauthorized(connectionId: string, version: number, said = 'HTTP 401'): Promise<{ accessToken: string; version: number }> {
    const c = await this.active(connectionId);
    if (c.tokenVersion === version) await this.refresh(c, 'unauthorized', said);
    return this.latest(connectionId);
  }

  /**
   * The API refused the token of `version` just after it was refreshed for a refusal (`said`: `HTTP 401: …`,
   * or Slack's `invalid_auth`): the grant is revoked or the account disabled, and another refresh would only
   * spend a rotating refresh token. Linking again is the only way: the connection goes to needs_reauth and every
   * caller refused so is answered connection_needs_reauth (the link). One that moved on (a newer token set) is left.
   */
  async refusedAfterRefresh(connectionId: string, version: number, said: string): Promise<void> {
    const c = await this.opts.store.get(connectionId);
    if (c !== undefined && c.state !== 'active') throw unavailable(c);
    if (c === undefined || c.tokenVersion !== version) return;
    this.opts.log.warn({ connection: c.id, integration: c.integration }, 'connection needs re-authorization: the provider refused a freshly refreshed token');
    await this.needsReauth(c, `the provider refused the access token again right after it was refreshed (${said}); link the account again`);
  }

  private async active(connectionId: string): Promise<Connection> {
    const c = await this.opts.store.get(connectionId);
    if (!c) throw new HubError('connection_required', `no connection ${connectionId}`);
    if (c.state !== 'active') throw unavailable(c);
    return c;
  }

  private async latest(connectionId: string): Promise<{ accessToken: string; version: number }> {
    const c = await this.active(connectionId);
    return { accessToken: (await this.opts.store.tokens(c)).accessToken, version: c.tokenVersion };
  }

  /**
   * Due for refresh within the margin — at most half the token's lifetime, so a provider issuing
   * short-lived tokens (shorter than the margin) is not refreshed on every single call.
   */
  private expiring(c: Connection, tokens: TokenSet): boolean {
    if (c.accessExpiresAt === null) return false;
    const lifetime = tokens.obtainedAt === undefined || tokens.expiresAt === undefined ? undefined : tokens.expiresAt - tokens.obtainedAt;
    const margin = lifetime === undefined ? this.margin : Math.min(this.margin, lifetime / 2);
    return c.accessExpiresAt - margin <= this.opts.clock.now();
  }

  private refresh(c: Connection, trigger: RefreshTrigger, said = 'HTTP 401'): Promise<TokenSet> {
    const running = this.inflight.get(c.id);
    if (running) return running;
    const held = this.heldBack(c);
    if (held) return held;
    // Not started once the store may close under it: a refresh the provider answered then would be lost.
    if (this.stopping)
      return Promise.reject(
        new HubError('token_refresh_failed', `could not refresh the ${c.integration} token: the hub is stopping; try again once it is back`),
      );
    const p = this.claimAndRefresh(c.id, c.tokenVersion, trigger, said).finally(() => this.inflight.delete(c.id));
    this.inflight.set(c.id, p);
    return p;
  }

  /**
   * The hub is stopping: the refreshes in flight are waited for, at most `graceMs`, so that a token
   * set the provider has issued is saved before the store closes. With rotation the refresh token
   * it replaced is spent (RFC 9700 §4.14.2): a set dropped here costs the user the connection.
   * Refreshes asked for from now on are refused rather than started.
   */
  async drain(graceMs = DRAIN_MS): Promise<void> {
    this.stopping = true;
    const running = [...this.inflight.values()];
    if (running.length === 0) return;
    this.opts.log.info({ refreshes: running.length }, 'waiting for the token refreshes in flight to be saved');
    const late = await within(
      Promise.allSettled(running).then(() => false),
      graceMs,
      true,
    );
    if (late)
      this.opts.log.warn(
        { refreshes: this.inflight.size, waitedMs: graceMs },
        'stopping with token refreshes still in flight; the next start finds them interrupted',
      );
  }

  private async claimAndRefresh(id: string, seenVersion: number, trigger: RefreshTrigger, said: string): Promise<TokenSet> {
    for (;;) {
      const r = await this.opts.store.tryLease(id, seenVersion, this.owner, this.lease, ownerIsDead);
      if (r.kind === 'acquired') return this.perform(r.connection, r.interrupted, trigger, said);
      if (r.kind === 'moved') {
        // Someone committed a new token set (or the connection left 'active') while we looked.
        if (r.connection.state !== 'active') throw unavailable(r.connection);
        return this.opts.store.tokens(r.connection);
      }
      await this.sleep(this.poll);
    }
  }

  private async perform(c: Connection, interrupted: boolean, trigger: RefreshTrigger, said: string): Promise<TokenSet> {
    const { store, log } = this.opts;
    const current = await store.tokens(c);
    if (!current.refreshToken) {
      log.warn({ connection: c.id, integration: c.integration, trigger }, 'connection needs re-authorization: no refresh token was issued');
      return this.needsReauth(c, noRefreshTokenReason(trigger, said));
    }
    const client = this.opts.clientFor(c.integration);
    // Set once an attempt failed without a clear answer: the provider may have rotated the token anyway.
    let uncertain = false;
    for (let attempt = 1; ; attempt++) {
      let next: TokenSet;
      try {
        next = await client.refresh(current);
      } catch (err) {
        if (err instanceof OAuthGrantError) {
          const notGrant = refusalNotAboutGrant(err);
          if (notGrant !== undefined) return this.keptAfterRefusal(c, current, notGrant, err, interrupted || uncertain);
          const why = `the provider rejected the refresh token (${err.error}${err.description ? `: ${err.description}` : ''})`;
          const reason = interrupted
            ? `${why} after an earlier refresh was interrupted before its result was saved; link the account again`
            : uncertain
              ? `${why} after an earlier refresh attempt failed without a clear answer (the provider may have rotated the token then); link the account again`
              : `${why}; link the account again`;
          log.warn({ connection: c.id, integration: c.integration, error: err.error, interrupted, uncertain }, 'connection needs re-authorization');
          return this.needsReauth(c, reason);
        }
        // Other hub errors (a vault or store failure) are not the token endpoint's answer.
        if (err instanceof HubError && !(err instanceof OAuthTransientError)) throw err;
        const transient = err instanceof OAuthTransientError ? err : new OAuthTransientError(describeError(err), undefined, undefined, { cause: err });
        if (!answeredWithoutActing(transient)) uncertain = true;
        const wait = transient.retryAfterMs ?? this.backoff(attempt);
        // Past the cap the provider's "not before" is the answer: no call should wait that long.
        const tooLong = transient.retryAfterMs !== undefined && transient.retryAfterMs > this.maxRetryAfter;
        if (attempt < this.attempts && !tooLong) {
          await this.sleep(wait);
          continue;
        }
        // An attempt without a clear answer may have spent the refresh token: the lease keeps its
        // start time so that whoever refreshes next can say so if the provider refuses the token.
        await store.releaseLease(c.id, this.owner, { outcomeUnknown: uncertain });
        log.warn(
          { connection: c.id, integration: c.integration, err: transient.message, ...(tooLong ? { retryAfterMs: wait } : {}) },
          tooLong ? 'token refresh failed; not retried before the wait the provider asked for' : 'token refresh failed; will retry on next use',
        );
        if (tooLong) this.notBefore.set(c.id, { at: this.opts.clock.now() + wait, version: c.tokenVersion, why: transient.message });
        // The connection stays usable while its current access token is still valid.
        if (this.stillValid(current)) return current;
        if (tooLong) throw tooSoon(c.integration, transient.message, wait, err);
        throw new HubError('token_refresh_failed', `could not refresh the ${c.integration} token: ${transient.message}; try again shortly`, { cause: err });
      }
      return this.commit(c, next);
    }
  }

  /**
   * The token endpoint refused the hub's client or the request, not the grant: the connection is
   * kept, and works again once the operator fixes the client or the provider recovers. A refresh
   * still unresolved (interrupted, or an attempt without a clear answer) stays on record in the
   * lease's start time, so a later refusal of the token can say so.
   */
  private async keptAfterRefusal(c: Connection, current: TokenSet, why: string, err: OAuthGrantError, outcomeUnknown: boolean): Promise<TokenSet> {
    await this.opts.store.releaseLease(c.id, this.owner, { outcomeUnknown });
    this.opts.log.warn(
      { connection: c.id, integration: c.integration, error: err.error, status: err.status },
      `token refresh refused, not for the grant; the connection is kept: ${why}`,
    );
    // As after a transient failure, the connection goes on with an access token still valid.
    if (this.stillValid(current)) return current;
    throw new HubError(
      'token_refresh_failed',
      `could not refresh the ${c.integration} token: ${why}; the account stays linked and works again once that is fixed`,
      {
        cause: err,
        details: { error: err.error, status: err.status },
      },
    );
  }

  /** needs_reauth with why, told to listeners; throws what the caller is answered with. */
  private async needsReauth(c: Connection, reason: string): Promise<never> {
    await this.opts.store.markNeedsReauth(c.id, reason);
    const latest = (await this.opts.store.get(c.id))!;
    this.opts.onStateChange?.(latest);
    throw unavailable(latest);
  }

  /**
   * Saves a token set the provider has issued. With rotation the old refresh token is spent from
   * here on (RFC 9700 §4.14.2): sending it again would revoke the grant, so a store failure (e.g.
   * SQLITE_BUSY after busy_timeout, a PostgreSQL restart) retries the save, never the refresh. It
   * retries for as long as this claim holds (`c` is the connection as claimed): until then no other
   * caller, in this process (they wait on this refresh) or another (they wait on the claim), sends
   * the spent token, and the set held here is the connection's only usable one.
   */
  private async commit(c: Connection, next: TokenSet): Promise<TokenSet> {
    const { store, log, clock } = this.opts;
    const saveUntil = (c.refreshUntil ?? clock.now()) - SAVE_MARGIN_MS;
    for (let attempt = 1; ; attempt++) {
      let saved: boolean;
      try {
        saved = await store.commitRefresh(c, this.owner, next);
      } catch (err) {
        const left = saveUntil - clock.now();
        if (left > 0) {
          const wait = Math.min(left, SAVE_RETRY_MAX_MS, this.backoff(attempt));
          log.warn(
            { connection: c.id, integration: c.integration, err: describeError(err), attempt, retryInMs: wait, claimLeftMs: left },
            'could not save the refreshed token set; retrying while the refresh claim holds',
          );
          await this.sleep(wait);
          continue;
        }
        // The lease row still records the refresh as started: the next refresh reports it as interrupted.
        log.error({ connection: c.id, integration: c.integration, err: describeError(err) }, 'could not save the refreshed token set');
        throw new HubError('store_failed', `the ${c.integration} token was refreshed but could not be saved (${describeError(err)})`, { cause: err });
      }
      if (!saved) {
        // Our claim lapsed and another process took over; its result is the one that counts.
        const latest = (await store.get(c.id))!;
        if (latest.state !== 'active') throw unavailable(latest);
        return store.tokens(latest);
      }
      log.info({ connection: c.id, integration: c.integration }, 'access token refreshed');
      return next;
    }
  }

  /** Within a wait the token endpoint asked for: the still-valid token, or token_refresh_failed at once. */
  private heldBack(c: Connection): Promise<TokenSet> | undefined {
    const wait = this.notBefore.get(c.id);
    if (!wait) return undefined;
    const left = wait.at - this.opts.clock.now();
    if (left <= 0 || wait.version !== c.tokenVersion) {
      this.notBefore.delete(c.id);
      return undefined;
    }
    return this.opts.store.tokens(c).then((current) => {
      if (this.stillValid(current)) return current;
      throw tooSoon(c.integration, wait.why, left);
    });
  }

  /** An access token that has not expired yet (or never does): the connection goes on with it while a refresh cannot be had. */
  private stillValid(tokens: TokenSet): boolean {
    return tokens.expiresAt === undefined || tokens.expiresAt > this.opts.clock.now();
  }

  private backoff(attempt: number): number {
    return this.opts.backoffMs?.(attempt) ?? 250 * 2 ** (attempt - 1);
  }
}
