import { HubError } from '../errors.js';

/**
 * The token endpoint refused the request or gave an answer no retry improves (RFC 6749 §5.2). Most
 * such refusals of a refresh mean the grant is dead, and only a new link can fix it; those about
 * the hub's client or its configuration do not (src/oauth/refusal.ts tells them apart).
 */
export class OAuthGrantError extends HubError {
  /** False when `error` is the hub's name for an answer that named none (no OAuth error body). */
  readonly named: boolean;

  constructor(
    readonly error: string,
    readonly description: string | undefined,
    readonly status: number,
    options: { cause?: unknown; named?: boolean } = {},
  ) {
    const { named = true, ...rest } = options;
    super('oauth_grant_rejected', `${error}${description ? `: ${description}` : ''}`, { ...rest, details: { error, status } });
    this.name = 'OAuthGrantError';
    this.named = named;
  }
}

/**
 * A refresh asked of a connection the provider issued no refresh token for (GitHub OAuth Apps: no
 * expiry, no refresh token). Nothing is sent to the token endpoint, so no OAuth error is reported
 * as its answer: only a new link gets a new access token.
 */
export class NoRefreshTokenError extends HubError {
  constructor() {
    super('connection_needs_reauth', 'no refresh token was issued for this connection, so no new access token can be had without linking again');
    this.name = 'NoRefreshTokenError';
  }
}

/** The endpoint could not be reached or failed on its side (network, 5xx, 429): worth retrying. */
export class OAuthTransientError extends HubError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super('oauth_endpoint_unavailable', message, { ...options, ...(status === undefined ? {} : { details: { status } }) });
    this.name = 'OAuthTransientError';
  }
}
