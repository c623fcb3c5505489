/**
 * How many times each client connection (a 2025 session's or the stdio face's Server, the
 * `caller` of its calls) said its roots changed (`notifications/roots/list_changed`). A downstream
 * connection that showed a caller's roots to its server compares the count it showed them at, so
 * the caller's next call tells the server they changed: servers keep the roots they were given
 * until told (server-filesystem, server-everything), and would go on serving the old folders.
 * Weak: a closed session's count goes with it.
 */
const changes = new WeakMap<object, number>();

/** The caller said its roots changed. */
export function rootsChanged(caller: object): void {
  changes.set(caller, (changes.get(caller) ?? 0) + 1);
}

/** How many changes `caller` said so far (0 for a caller of no connection, a 2026-07-28 request). */
export function rootsVersion(caller: object | undefined): number {
  return caller === undefined ? 0 : (changes.get(caller) ?? 0);
}
