import { createHash, randomBytes } from 'node:crypto';

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` are the same arguments. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

/**
 * What tells "the same key, the same arguments" (a client's retry) from "the same key, other
 * arguments" (a conflict). It is never used as a key: two identical writes a user meant to make
 * are two jobs (issue 9).
 */
export function argsHash(args: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(args)).digest('base64url');
}

/** Job ids sort by creation time, then at random (like event ids). */
export function newJobId(now: number): string {
  return `job_${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

/** A key for a call that brought none: random, so two identical calls stay two writes. */
export function newIdempotencyKey(): string {
  return `auto_${randomBytes(16).toString('base64url')}`;
}
