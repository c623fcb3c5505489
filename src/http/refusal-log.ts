import type { Logger } from 'pino';
import { ERROR_SPECS, type HubErrorCode } from '../errors.js';

/** Lines per code and window; past it the refusals are counted and said in one line when the window ends. */
const PER_WINDOW = 20;
const WINDOW_MS = 60_000;

/** Logs a refused request at its code's level (docs/errors.md). */
export type RefusalLog = (code: HubErrorCode, fields: Record<string, unknown>) => void;

/**
 * Refused requests (a foreign Host or Origin, a missing or bad token) in the log at the level
 * docs/errors.md gives their code, so an operator sees a DNS-rebinding attempt or a client with a
 * stale token. A flood must not flood the log: past PER_WINDOW lines of one code in a minute, the
 * rest are counted and reported in one line when that minute ends. Never the token itself: the
 * caller passes what identifies the request (method, path, the refused Host or Origin).
 */
export function refusalLog(log: Logger, now: () => number = () => performance.now()): RefusalLog {
  const windows = new Map<HubErrorCode, { start: number; logged: number; suppressed: number }>();
  return (code, fields) => {
    const level = ERROR_SPECS[code].log;
    const t = now();
    let w = windows.get(code);
    if (w === undefined || t - w.start >= WINDOW_MS) {
      if (w !== undefined && w.suppressed > 0) log[level]({ code, suppressed: w.suppressed }, 'more requests were refused with this code in the last minute');
      w = { start: t, logged: 0, suppressed: 0 };
      windows.set(code, w);
    }
    if (w.logged >= PER_WINDOW) {
      w.suppressed++;
      return;
    }
    w.logged++;
    log[level]({ code, ...fields }, 'request refused');
  };
}
