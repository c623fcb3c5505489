import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A bearer secret: a readable prefix (so secret scanners and logs can tell the kinds apart)
 * followed by 256 random bits in base64url.
 */
export function newSecret(prefix: 'sbx_at' | 'sbx_rt' | 'sbx_code' | 'sbx_ia' | 'sbx_br'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Codes, tokens and interaction ids are stored as this digest only, never in plaintext. */
export function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(ASCII(code_verifier))). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Compares digests of both sides, so the lengths match and the comparison takes constant time. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A short public id for rows a user sees (tickets, grants). */
export function publicId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}
