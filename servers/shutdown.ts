import type { Logger } from 'pino';

/**
 * Stops the hub once on SIGINT/SIGTERM (or a custom trigger) and exits; a second signal exits at once.
 * Unhandled rejections are logged rather than crashing the process: one bad request or source must
 * not take every client's connection down.
 */
export function onShutdown(stop: () => Promise<void>, log: Logger): () => void {
  let stopping = false;
  const run = (why: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    log.info({ why }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    stop()
      .catch((err: unknown) => log.error({ err: String(err) }, 'error during shutdown'))
      .finally(() => process.exit(process.exitCode ?? 0));
  };
  process.on('SIGINT', () => run('SIGINT'));
  process.on('SIGTERM', () => run('SIGTERM'));
  process.on('SIGHUP', () => run('SIGHUP'));
  process.on('unhandledRejection', (reason) => log.error({ err: String(reason) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: err.message, stack: err.stack }, 'uncaught exception'));
  // Idempotent, unlike a second signal: stdin reports both 'end' and 'close' when a host hangs up.
  return () => {
    if (!stopping) run('requested');
  };
}
