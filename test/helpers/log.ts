import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';

/**
 * A real logger (the hub's redaction and format) whose lines land in `lines`, so a test reads back
 * what the hub logged: that a secret never appears, that a call's log line carries its ids.
 */
export function capturedLogger(lines: string[], level = 'debug'): Logger {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return createLogger({ level, destination });
}
