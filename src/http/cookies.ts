import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, Response } from 'express';

/**
 * Cookies through the `cookie` package: it parses RFC 6265 §4.2.1 headers leniently (a value that
 * is not valid percent-encoding is kept as sent instead of throwing, which made GET /connect answer
 * 500) and refuses to serialise a name, value or path that would break the header.
 */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  return parseCookie(header)[name];
}

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  /** Lax where the cookie must come along on a top-level navigation from another site, else Strict. */
  sameSite: 'lax' | 'strict';
  secure: boolean;
}

export function setCookie(res: Response, name: string, value: string, o: CookieOptions): void {
  res.append(
    'Set-Cookie',
    stringifySetCookie(name, value, { path: o.path, maxAge: Math.max(0, Math.floor(o.maxAgeSeconds)), httpOnly: true, sameSite: o.sameSite, secure: o.secure }),
  );
}

export function clearCookie(res: Response, name: string, o: Pick<CookieOptions, 'path' | 'sameSite' | 'secure'>): void {
  setCookie(res, name, '', { ...o, maxAgeSeconds: 0 });
}
