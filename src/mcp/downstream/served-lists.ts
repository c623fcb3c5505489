import type { CachedLists } from '../../store/list-cache.js';
import type { ChangeKind, SourceChange, SourceStatus } from '../source.js';
import { fingerprint, movedKinds, NO_LISTS, withKind } from './lists.js';

/** What of the main connection the lists served follow. */
interface MainLists {
  lists(): CachedLists;
  status(): SourceStatus;
}

/**
 * What clients are shown of one downstream server's lists, and which changes are news to them:
 * the cached lists while the main connection has not listed yet, then the main connection's, with
 * a list an identity's own session read since in place of that kind (`sessionRead`).
 */
export class ServedLists {
  /** Lists from the cache, served until the main connection has listed. */
  private cached: CachedLists | undefined;
  /** What clients were last shown, so a reconnect that lists the same announces nothing. */
  private served: CachedLists | undefined;
  /** Lists an identity's own session read again after the server announced a change there, newer than the main connection's. */
  private readonly newer = new Map<ChangeKind, CachedLists>();

  constructor(
    private readonly main: MainLists,
    private readonly tell: (change: SourceChange) => void,
  ) {}

  /** The lists a warm start serves before its server has answered. */
  setCached(cached: CachedLists | undefined): void {
    this.cached = this.served = cached;
  }

  get hasCached(): boolean {
    return this.cached !== undefined;
  }

  /** What a list shows now. */
  now(): CachedLists {
    if (this.cached && this.main.status().state !== 'ready') return this.cached;
    let lists = this.main.lists();
    for (const [kind, from] of this.newer) lists = withKind(lists, from, kind);
    return lists;
  }

  /** The main connection (ready) read a list: it stands over what a session read of that kind. */
  mainRead(change: SourceChange, firstIsNews: boolean): void {
    this.newer.delete(change.kind);
    this.cached = undefined;
    this.announce(change, firstIsNews);
  }

  /**
   * A list an identity's own session read again after the server announced a change on it: a
   * 1.x-SDK server with a Server per session announces a tool a call added on that call's session
   * only, which the main connection never hears. The server's lists are everyone's (as a shared
   * process's), so this is what everyone is shown until the main connection reads that list again.
   */
  sessionRead(change: SourceChange, lists: CachedLists): void {
    // The main connection reads every list as it connects.
    if (this.main.status().state !== 'ready') return;
    this.newer.set(change.kind, lists);
    this.announce(change, true);
  }

  /** The main connection is new: what a session read before is the old server's, and its new lists stand. */
  reconnected(): void {
    if (this.newer.size === 0) return;
    this.newer.clear();
    this.announce({ kind: 'tools' }, false);
  }

  /**
   * Tells clients of every list that differs from what they were served (`movedKinds`). With
   * nothing served yet, none has listed (their first list waits for this server until it is
   * listable), so the first lists are news to nobody unless `firstIsNews`: then clients may have
   * listed without this server, and were shown none of its lists. Every kind it has is news, not
   * only the one announced first, which stores the others as served too.
   */
  private announce(change: SourceChange, firstIsNews: boolean): void {
    const fresh = this.now();
    const was = this.served ?? (firstIsNews ? NO_LISTS : undefined);
    this.served = fresh;
    if (!was) return;
    for (const kind of movedKinds(fingerprint(was), fingerprint(fresh))) this.tell(kind === change.kind ? change : { ...change, kind });
  }
}
