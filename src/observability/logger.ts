import { pino, type Logger } from 'pino';
import { FdDestination } from './fd-destination.js';

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

const CENSOR = '[redacted]';

export interface LoggerOptions {
  level?: string;
  /** Where log lines go; stderr by default so stdout stays free for the stdio protocol. */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 2;
  const options = {
    level: opts.level ?? 'info',
    base: { name: 'switchboard' },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // A file descriptor (stderr): batched, asynchronous, flushed at exit (fd-destination.ts).
  return pino(options, typeof dest === 'number' ? new FdDestination(dest) : dest);
}

/**
 * A child of `log` that skips redaction, for hot lines whose fields are names, ids, timings and
 * counts, none at a path REDACT_PATHS names. pino's path redaction walks each line it writes:
 * ~40 µs a line on this machine against ~12 µs without, ~2 % of the hub's CPU per agent call
 * (`npm run bench:agents -- --hub-cpu-prof DIR`). Any line carrying an error, a config entry,
 * headers or a body stays on the redacting logger.
 */
export function unredacted(log: Logger): Logger {
  return log.child({}, { redact: { paths: [], censor: CENSOR } });
}

/** A logger that drops everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
