import { HubError } from '../errors.js';
import { inScope, shown, type Scope } from './scope.js';

/** One request of a redirect chain. `body` is resent only where RFC 9110 keeps it. */
export interface Hop {
  url: URL;
  method: string;
  body: RequestInit['body'];
  /** The body was dropped on a method change: its content headers go too (Fetch §4.4 step 11). */
  bodyDropped: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The next hop of a redirect the client follows by hand (fetch runs with `redirect: 'manual'`, or it
 * would carry the request and its body anywhere). Only a target on the same origin and under the
 * API base path is followed, since the credentials go with it; anything else is refused before a
 * byte is sent there. Returns undefined when the response is not a redirect to follow.
 */
export function nextHop(scope: Scope, label: string, hop: Hop, res: Response): Hop | undefined {
  if (!REDIRECTS.has(res.status)) return undefined;
  const location = res.headers.get('location');
  // RFC 9110 §15.4: without a Location a 3xx is the answer itself.
  if (location === null) return undefined;
  let target: URL;
  try {
    target = new URL(location, hop.url);
  } catch {
    throw refused(label, hop, res.status, 'an unparsable Location');
  }
  if (!inScope(scope, target)) throw refused(label, hop, res.status, shown(target), { location: shown(target) });
  // RFC 9110 §15.4.4: after a 303 the client retrieves the target with GET (HEAD stays HEAD).
  // §15.4.2/§15.4.3: for 301 and 302 user agents change POST to GET, as the Fetch standard does.
  // §15.4.8/§15.4.9: 307 and 308 keep the method and the body.
  const toGet = (res.status === 303 && hop.method !== 'GET' && hop.method !== 'HEAD') || ((res.status === 301 || res.status === 302) && hop.method === 'POST');
  if (toGet) return { url: target, method: 'GET', body: undefined, bodyDropped: true };
  if (hop.body instanceof ReadableStream) throw refused(label, hop, res.status, shown(target), { reason: 'a streamed body cannot be sent again' });
  return { url: target, method: hop.method, body: hop.body, bodyDropped: hop.bodyDropped };
}

function refused(label: string, hop: Hop, status: number, where: string, details: Record<string, unknown> = {}): HubError {
  return new HubError(
    'provider_redirect_refused',
    `${label} redirected ${hop.method} ${hop.url.pathname} (${status}) to ${where}, which is outside the API base; not followed`,
    {
      details: { status, ...details },
    },
  );
}

export function tooManyRedirects(label: string, max: number): HubError {
  return new HubError('provider_redirect_refused', `${label} redirected more than ${max} times; not followed further`, { details: { max } });
}
