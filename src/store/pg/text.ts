/**
 * Whether `value` can travel as PostgreSQL text. PostgreSQL's text holds no NUL character (U+0000):
 * a parameter holding one fails the whole statement ("invalid byte sequence for encoding UTF8:
 * 0x00", SQLSTATE 22021), where SQLite simply stores or compares it. An id a client names with a
 * NUL in it therefore names nothing the store holds, and a lookup of it answers "none" without
 * asking the database, as the same lookup finds nothing on SQLite; asking failed it instead with
 * a retryable store_failed (HTTP 500 on the task methods), logged as the database's error.
 */
export function isPgText(value: string): boolean {
  return !value.includes('\u0000');
}
