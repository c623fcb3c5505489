import { HubError } from '../errors.js';

/** The part of the web a provider binding may send credentials to: one origin, under one path. */
export interface Scope {
  origin: string;
  /** The base path with a trailing slash, e.g. `/v1/`. */
  path: string;
}

export function scopeOf(apiBaseUrl: string): Scope {
  const root = new URL(apiBaseUrl);
  return { origin: root.origin, path: root.pathname.endsWith('/') ? root.pathname : `${root.pathname}/` };
}

/**
 * WHATWG URL parsing has already removed dot-segments (RFC 3986 §5.2.4, `%2e%2e` included), so a
 * prefix test on the parsed path cannot be walked out of. `/v1` itself is inside `/v1/`; `/v10` is not.
 */
export function inScope(scope: Scope, url: URL): boolean {
  return url.origin === scope.origin && `${url.pathname}/`.startsWith(scope.path);
}

/** A path relative to the base (leading slash optional) or an absolute URL, which must be in scope. */
export function resolveInScope(scope: Scope, path: string): URL {
  const url = new URL(path.replace(/^\//, ''), `${scope.origin}${scope.path}`);
  if (!inScope(scope, url)) throw new HubError('forbidden', `refusing to send credentials outside ${scope.origin}${scope.path}`);
  return url;
}

/** Origin and path only: a query can carry signatures or tokens that must not reach logs or errors. */
export function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
