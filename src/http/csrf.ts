import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../oauth/link-uses.js';

/**
 * Synchronizer tokens for the hub's forms (OWASP CSRF cheat sheet): a form field derived from a
 * secret that only the HttpOnly cookie of this browser holds. A page on another site can copy the
 * field names, not the value, and its post arrives without the SameSite cookie anyway.
 */
export function csrfToken(cookieSecret: string): string {
  return sha256(`csrf\0${cookieSecret}`);
}

export function csrfMatches(given: string, cookieSecret: string): boolean {
  const x = Buffer.from(given);
  const y = Buffer.from(csrfToken(cookieSecret));
  // timingSafeEqual throws on unequal lengths: compare lengths first.
  return x.length === y.length && timingSafeEqual(x, y);
}
