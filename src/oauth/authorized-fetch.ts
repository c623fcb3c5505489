import { HubError } from '../errors.js';
import type { TokenManager } from './token-manager.js';

export type AuthorizedFetch = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * A fetch bound to one connection and one API: it resolves paths against the API base URL, refuses
 * any other origin (the token must never travel elsewhere), injects the bearer token, and after a
 * 401 refreshes once and retries once.
 */
export function authorizedFetch(tokens: TokenManager, connectionId: string, apiBaseUrl: string, base: typeof fetch = fetch): AuthorizedFetch {
  const root = new URL(apiBaseUrl.endsWith('/') ? apiBaseUrl : `${apiBaseUrl}/`);
  return async (path, init = {}) => {
    const url = new URL(path.replace(/^\//, ''), root);
    if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname)) {
      throw new HubError('forbidden', `refusing to send credentials outside ${root.origin}${root.pathname}`);
    }
    const send = (token: string) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return base(url, { ...init, headers });
    };
    const token = await tokens.accessToken(connectionId);
    const res = await send(token);
    if (res.status !== 401) return res;
    // RFC 6750 §3.1: invalid_token means this token is dead; refresh once, then give up.
    let next: string;
    try {
      next = await tokens.accessToken(connectionId, token);
    } catch (err) {
      await res.body?.cancel().catch(() => {});
      throw err;
    }
    // No new token (the token endpoint is down and the old one has not expired yet): the 401, body
    // unread, is the answer — the caller shows the provider's own words.
    if (next === token) return res;
    await res.body?.cancel().catch(() => {});
    return send(next);
  };
}
