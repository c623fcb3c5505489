/** A JSON object (not null, not an array): the shape most parsed messages and config entries must have. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
