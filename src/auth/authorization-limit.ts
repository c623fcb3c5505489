import type { RequestHandler } from 'express';
import type { Clock } from '../clock.js';
import { isLoopbackHost } from '../http/security.js';
import { messagePage } from '../http/pages.js';
import { PAGE_HEADERS } from './pages.js';
import { callerAddress, countedAs, fixedWindows } from './registration-limit.js';

export interface AuthorizationLimitOptions {
  clock: Clock;
  /** New authorization requests one caller (an IPv4 address, an IPv6 /64) may start per window. */
  perWindow?: number;
  /** The same for callers on this machine, which share one loopback address. */
  localPerWindow?: number;
  windowMs?: number;
  /** Callers remembered at most; the oldest windows are dropped first. */
  maxTracked?: number;
}

/**
 * Every request to `/authorize` that names a registered client stores a pending sign-in (about
 * 1 KB, kept an hour), and anyone may send one: registration is open, and a client id is no
 * secret. Unbounded, one caller could fill the store at the rate it sends requests. A person
 * signing in starts a few a minute; past the limit a caller is answered 429 with Retry-After and
 * a page saying so, and nothing is stored. Counted per process, per caller as the registration
 * limit names it (the address a proxy on this machine forwarded, an IPv6 address by its /64).
 */
export function authorizationLimit(opts: AuthorizationLimitOptions): RequestHandler {
  const remote = opts.perWindow ?? 60;
  const local = opts.localPerWindow ?? 600;
  const windowMs = opts.windowMs ?? 60_000;
  const maxTracked = opts.maxTracked ?? 10_000;
  const windows = fixedWindows(windowMs, maxTracked);
  return (req, res, next) => {
    // HEAD too: the library (and Express, on the sign-in page) answers it as a GET, storing as much.
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') return next();
    const ip = callerAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const limit = isLoopbackHost(ip.replace(/^::ffff:/, '')) ? local : remote;
    const now = opts.clock.now();
    const w = windows.at(countedAs(ip), now);
    if (w.count >= limit) {
      const seconds = Math.ceil((w.start + windowMs - now) / 1000);
      res
        .status(429)
        .set(PAGE_HEADERS)
        .set('Retry-After', String(seconds))
        .type('html')
        .send(
          messagePage(
            'Sign-in failed',
            `Too many sign-in requests came from your address (at most ${limit} in ${windowMs / 1000} s). Try again in ${seconds} s.`,
            {
              failure: true,
              code: 'too_many_requests',
            },
          ),
        );
      return;
    }
    w.count++;
    next();
  };
}
