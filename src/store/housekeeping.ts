import { describeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

/**
 * Runs `step` until one touches fewer rows than `chunk`, letting the event loop run between steps:
 * each step is one statement of at most `chunk` rows, so a large backlog never holds the store's
 * write lock for long while requests that write (callbacks, deliveries) arrive. Returns the rows
 * touched in all.
 */
export async function inChunks(chunk: number, step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < chunk) return total;
    await new Promise((done) => setImmediate(done));
  }
}

export interface PeriodicOptions {
  /** Between runs; default an hour. */
  everyMs?: number;
  log: Logger;
  /** Said when a run fails, e.g. "the inbox purge". */
  what: string;
}

/**
 * A housekeeping job run once at start and then every `everyMs`: a failed run is logged and the
 * next one tries again; the timer never keeps the process alive; `stop` waits for a run under way.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly o: PeriodicOptions,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.run().catch((err: unknown) => this.o.log.warn({ err: describeError(err) }, `${this.o.what} failed; it runs again later`));
    };
    tick();
    this.timer = setInterval(tick, this.o.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
