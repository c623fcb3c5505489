import { createHash, randomBytes } from 'node:crypto';

/** RFC 7636 §4.1: 32 random bytes give a 43-character verifier, the minimum length allowed. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
