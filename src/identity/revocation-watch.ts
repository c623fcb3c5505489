/** What the watch needs of the token store: the two methods `ApiTokens` has. */
export interface RevocationSource {
  /** Told of revocations made through this instance, at once (other processes are seen by polling `revokedAmong`). */
  onRevoked(fn: (tokenId: string) => void): () => void;
  /** Which of these token ids are revoked or expired: either way their open sessions and streams end. */
  revokedAmong(ids: readonly string[]): Promise<string[]>;
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
  let stopped = false;
  // One look at a time: a slow store must not pile up overlapping polls.
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    const ids = [...new Set(opts.live())];
    if (ids.length === 0) return;
    looking = true;
    opts.source.revokedAmong(ids).then(
      (revoked) => {
        looking = false;
        if (stopped) return;
        for (const id of revoked) opts.onRevoked(id);
      },
      () => {
        looking = false; // busy or closing: look again next time
      },
    );
  }, opts.everyMs ?? 1000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    stopListening();
  };
}
