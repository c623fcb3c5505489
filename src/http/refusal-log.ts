import type { Logger } from 'pino';
import { ERROR_SPECS, type HubErrorCode, type LogLevel } from '../errors.js';

/** Lines per code and window; past it the refusals are counted and said in one line when the window ends. */
const PER_WINDOW = 20;
const WINDOW_MS = 60_000;

/** Logs a refused request at its code's level (docs/errors.md); `message` says where (default "request refused"). */
export type RefusalLog = (code: HubErrorCode, fields: Record<string, unknown>, message?: string) => void;

/** Logs a line under a key, at most PER_WINDOW of one key a minute. */
export type ThrottledLog = (key: string, level: LogLevel, fields: Record<string, unknown>, message: string) => void;

/**
 * A log that a flood cannot flood: past PER_WINDOW lines of one key in a minute, the rest are
 * counted and reported in one line when that minute ends. For what anyone on the network can make
 * the hub say (refused requests, junk at the public routes).
 */
export function throttledLog(log: Logger, now: () => number = () => performance.now()): ThrottledLog {
  const windows = new Map<string, { start: number; level: LogLevel; logged: number; suppressed: number }>();
  return (key, level, fields, message) => {
    const t = now();
    let w = windows.get(key);
    if (w === undefined || t - w.start >= WINDOW_MS) {
      if (w !== undefined && w.suppressed > 0)
        log[w.level]({ code: key, suppressed: w.suppressed }, 'more requests were refused with this code in the last minute');
      w = { start: t, level, logged: 0, suppressed: 0 };
      windows.set(key, w);
    }
    if (w.logged >= PER_WINDOW) {
      w.suppressed++;
      return;
    }
    w.logged++;
    log[level](fields, message);
  };
}

/**
 * Refused requests (a foreign Host or Origin, a missing or bad token, a webhook that fails its
 * signature) in the log at the level docs/errors.md gives their code, so an operator sees a
 * DNS-rebinding attempt or a client with a stale token, throttled per code (throttledLog). Never
 * the token itself: the caller passes what identifies the request (method, path, the refused Host
 * or Origin).
 */
export function refusalLog(log: Logger, now: () => number = () => performance.now()): RefusalLog {
  const say = throttledLog(log, now);
  return (code, fields, message = 'request refused') => say(code, ERROR_SPECS[code].log, { code, ...fields }, message);
}
