import type { Clock } from '../../clock.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { EventFeed } from './handlers.js';
import type { DoneCursor, DoneEvents } from './types.js';

export interface DoneWatchOptions {
  source: DoneEvents;
  feed: EventFeed;
  clock: Clock;
  log: Logger;
  everyMs?: number;
  /** Rows read per look; a full page is followed by another look at once. */
  pageSize?: number;
}

/**
 * Tells this process's clients of events another process on the same data dir finished: a `serve`
 * takes the webhooks while a `stdio` hub has the desktop client subscribed. The feed tells each
 * event once, so the ones this process's own worker finished (and published at once) are not
 * told again. It reads only while someone listens, from where it last stopped.
 */
export function watchDone(o: DoneWatchOptions): () => void {
  const everyMs = o.everyMs ?? 1000;
  const pageSize = o.pageSize ?? 1000;
  let cursor: DoneCursor = { at: o.clock.now(), seq: 0 };
  let busy = false;
  let stopped = false;
  const look = async (): Promise<void> => {
    if (busy || stopped) return;
    if (!o.feed.listened) {
      // Nobody to tell: what finishes now is not news to a client that subscribes later.
      cursor = { at: o.clock.now(), seq: 0 };
      return;
    }
    busy = true;
    try {
      for (;;) {
        const { events, next } = await o.source.doneAfter(cursor, pageSize);
        cursor = next;
        for (const e of events) o.feed.publish(e);
        if (events.length < pageSize || stopped) break;
      }
    } catch (err) {
      o.log.debug({ err: describeError(err) }, 'could not read events other processes finished; looking again shortly');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
