/** A JSON object (not null, not an array): the shape most parsed messages and config entries must have. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON object without an own `__proto__` key (JSON.parse makes one from `"__proto__": …`): the
 * hand checks that stand in for zod schemas take only these, since zod's objects drop that key.
 */
export function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && !Object.hasOwn(v, '__proto__');
}
