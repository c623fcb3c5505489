/**
 * `promise`'s value, or `fallback` once `ms` passed (or when it fails): a wait with a bound, its
 * timer cleared either way. For answers that must come in time whatever a dependency does (a
 * health check, a list waiting for a server's list to be read again).
 */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}
