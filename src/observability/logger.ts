import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values are secrets wherever they appear. pino's redaction works on paths, so the
 * list covers the shapes the hub logs: headers, config entries and token sets.
 */
const REDACT_PATHS = [
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'apiKey',
  'password',
  'secret',
  'authorization',
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.clientSecret',
  '*.client_secret',
  '*.apiKey',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.env',
  'env',
];

export interface LoggerOptions {
  level?: string;
  /** Where log lines go; stderr by default so stdout stays free for the stdio protocol. */
  destination?: NodeJS.WritableStream | number;
}

/** Log lines wait for this many bytes, or FLUSH_MS, before they are written. */
const BATCH_BYTES = 4096;
const FLUSH_MS = 100;

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 2;
  const options = {
    level: opts.level ?? 'info',
    base: { name: 'switchboard' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (typeof dest !== 'number') return pino(options, dest);
  // Asynchronous and batched. A synchronous write per line blocked each call on the reader of
  // stderr (a pipe to a supervisor or a terminal): 0.37 ms of every agent call on a small VM. An
  // asynchronous write per line still cost a thread-pool write, a wake-up of the event loop and one
  // of the reader per line: ~0.8 ms of hub CPU per agent call (bench:agents with logLevel "warn"
  // against "info"). Lines now leave together once 4 KiB wait or at the latest after FLUSH_MS.
  // pino flushes what is pending synchronously when the process exits, a fatal error included;
  // only a SIGKILL can lose the lines of the last moments.
  const sonic = pino.destination({ fd: dest, sync: false, minLength: BATCH_BYTES });
  // Armed by a line, not on an interval (sonic-boom's periodicFlush writes even an empty buffer):
  // an idle hub makes no system calls for its log.
  let armed = false;
  const flushSoon = () => {
    armed = false;
    try {
      sonic.flush();
    } catch {
      // Ended at exit, after its last lines were flushed synchronously.
    }
  };
  const streamWrite = (line: string): string => {
    if (!armed) {
      armed = true;
      setTimeout(flushSoon, FLUSH_MS).unref();
    }
    return line;
  };
  return pino({ ...options, hooks: { streamWrite } }, sonic);
}

/** A logger that drops everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
