import type { Logger } from 'pino';

/**
 * The longest a stop may take before the process exits anyway: longer than the outbox's grace for
 * a write in flight (15 s, src/outbox/worker.ts), so a provider's answer that comes within it is
 * recorded rather than left `sending` (which the next start can only call `sent_unconfirmed`).
 */
const FORCE_EXIT_MS = 20_000;

/**
 * Stops the hub once on SIGINT/SIGTERM (or a custom trigger) and exits. A second signal after a
 * first one exits at once (a person pressing Ctrl-C twice); a signal after a custom trigger does
 * not: the MCP SDK's stdio client closes a server by ending its stdin, then sends SIGTERM 2 s
 * later, and that SIGTERM used to cut the stop short, leaving a write in flight unrecorded.
 * Unhandled rejections are logged rather than crashing the process: one bad request or source must
 * not take every client's connection down.
 */
export function onShutdown(stop: () => Promise<void>, log: Logger): () => void {
  let stopping: 'signal' | 'requested' | undefined;
  const run = (why: string, by: 'signal' | 'requested') => {
    if (stopping !== undefined) {
      if (by === 'signal' && stopping === 'signal') process.exit(1);
      if (by === 'signal') log.info({ why }, 'already stopping: letting work under way finish');
      return;
    }
    stopping = by;
    log.info({ why }, 'shutting down');
    const force = setTimeout(() => process.exit(1), FORCE_EXIT_MS);
    force.unref();
    stop()
      .catch((err: unknown) => log.error({ err: String(err) }, 'error during shutdown'))
      .finally(() => process.exit(process.exitCode ?? 0));
  };
  process.on('SIGINT', () => run('SIGINT', 'signal'));
  process.on('SIGTERM', () => run('SIGTERM', 'signal'));
  process.on('SIGHUP', () => run('SIGHUP', 'signal'));
  process.on('unhandledRejection', (reason) => log.error({ err: String(reason) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: err.message, stack: err.stack }, 'uncaught exception'));
  // Idempotent, unlike a second signal: stdin reports both 'end' and 'close' when a host hangs up.
  return () => run('requested', 'requested');
}
