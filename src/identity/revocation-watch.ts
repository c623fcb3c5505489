/** What the watch needs of the token store: the two methods `ApiTokens` has. */
export interface RevocationSource {
  onRevoked(fn: (tokenId: string) => void): () => void;
  revokedAmong(ids: readonly string[]): string[];
}

export interface RevocationWatchOptions {
  source: RevocationSource;
  /** The token ids something is held open for; only these are looked up. */
  live: () => Iterable<string>;
  onRevoked: (tokenId: string) => void;
  everyMs?: number;
}

/**
 * Calls `onRevoked` for a token revoked in this process at once, and for one revoked by another
 * process on the same data dir (`switchboard tokens revoke`) within `everyMs`: a primary-key read
 * of the live token ids only, skipped when nothing is open.
 */
export function watchRevocations(opts: RevocationWatchOptions): () => void {
  const stopListening = opts.source.onRevoked(opts.onRevoked);
  const timer = setInterval(() => {
    const ids = [...new Set(opts.live())];
    if (ids.length === 0) return;
    let revoked: string[];
    try {
      revoked = opts.source.revokedAmong(ids);
    } catch {
      return; // busy or closing: look again next time
    }
    for (const id of revoked) opts.onRevoked(id);
  }, opts.everyMs ?? 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    stopListening();
  };
}
