/**
 * How a request is authorized, as modes: an OAuth connection (tokens from the token manager), a
 * static API key or header from config, or nothing. The provider client asks for headers before
 * each exchange and, after a 401, for a newer credential once.
 */
export interface Credential {
  readonly headers: Readonly<Record<string, string>>;
  /** The token set version these headers belong to (0 for static credentials). */
  readonly version: number;
}

export interface Credentials {
  readonly mode: 'oauth' | 'api_key' | 'none';
  current(): Promise<Credential>;
  /**
   * After a 401 to `rejected` (or a 2xx refusal the integration reads as one; `why` names it, e.g.
   * `HTTP 401` or Slack's `invalid_auth`): a newer credential, or undefined when there is none to try.
   */
  renew(rejected: Credential, why?: string): Promise<Credential | undefined>;
  /**
   * The provider refused `renewed` too, a credential it had just issued: nothing but a new link
   * can help, so the OAuth mode marks the connection as needing one and throws what the caller is
   * answered with (`connection_needs_reauth`, so the call offers the link). Returns when the
   * connection has moved on meanwhile (another refresh, a new link).
   */
  refusedAfterRenewal?(renewed: Credential, why: string): Promise<void>;
}

/** What the OAuth mode needs of the token manager (kept structural: providers do not import oauth). */
export interface ConnectionTokens {
  credential(connectionId: string): Promise<{ accessToken: string; version: number }>;
  /** One refresh per token version: concurrent callers with the same rejected version share it. */
  afterUnauthorized(connectionId: string, version: number, why?: string): Promise<{ accessToken: string; version: number }>;
  /** The token of `version`, refreshed after a refusal, was refused too: needs a new link (throws what the caller is answered with). */
  refusedAfterRefresh(connectionId: string, version: number, why: string): Promise<void>;
}

// RFC 6750 §2.1: the access token travels in the Authorization request header field.
const bearer = (t: { accessToken: string; version: number }): Credential => ({ headers: { authorization: `Bearer ${t.accessToken}` }, version: t.version });

export function oauthCredentials(tokens: ConnectionTokens, connectionId: string): Credentials {
  return {
    mode: 'oauth',
    current: async () => bearer(await tokens.credential(connectionId)),
    async renew(rejected, why) {
      const next = await tokens.afterUnauthorized(connectionId, rejected.version, why);
      // The same version back means no refresh happened (the token endpoint is down and the token has
      // not expired yet): resending would only earn the same 401.
      return next.version === rejected.version ? undefined : bearer(next);
    },
    refusedAfterRenewal: (renewed, why) => tokens.refusedAfterRefresh(connectionId, renewed.version, why),
  };
}

export interface ApiKeyOptions {
  /** The header to send, e.g. `authorization` or `x-api-key`. */
  header: string;
  value: string;
  /** Put before the value, e.g. `Bearer ` or `Token `. */
  prefix?: string;
}

export function apiKeyCredentials(o: ApiKeyOptions): Credentials {
  const credential: Credential = { headers: { [o.header.toLowerCase()]: `${o.prefix ?? ''}${o.value}` }, version: 0 };
  return { mode: 'api_key', current: async () => credential, renew: async () => undefined };
}

export const noCredentials: Credentials = {
  mode: 'none',
  current: async () => ({ headers: {}, version: 0 }),
  renew: async () => undefined,
};
