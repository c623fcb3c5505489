import { HubError } from './errors.js';

/**
 * One part of a running hub: the store, a worker, a face. Parts are declared once, in start
 * order, and stop in reverse, so a part may rely on every part before it while it runs
 * (Fastify lists its hooks as data for the same reason). Either step may be absent.
 */
export interface Part {
  readonly name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface LifecycleOptions {
  /** Told of a part whose stop failed; the other parts are still stopped. */
  onStopError?: (part: string, err: unknown) => void;
}

/** Starts parts in their declared order and stops the started ones in reverse. */
export class Lifecycle {
  private readonly parts: readonly Part[];
  private readonly started: Part[] = [];
  private next = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    parts: readonly Part[],
    private readonly opts: LifecycleOptions = {},
  ) {
    const names = new Set<string>();
    for (const p of parts) {
      if (names.has(p.name)) throw new HubError('internal', `two lifecycle parts are named "${p.name}"`);
      names.add(p.name);
    }
    this.parts = parts;
  }

  /** The declared order. */
  names(): string[] {
    return this.parts.map((p) => p.name);
  }

  /** The parts started so far, in start order. */
  running(): string[] {
    return this.started.map((p) => p.name);
  }

  /**
   * Starts the parts up to and including `through`, synchronously: the ones every other part is
   * built on (the store, its migrations, the vault) are opened before the others are constructed.
   * Their start must not return a promise.
   */
  openSync(through: string): void {
    const end = this.parts.findIndex((p) => p.name === through);
    if (end < this.next) throw new HubError('internal', `lifecycle part "${through}" is unknown or already started`);
    while (this.next <= end) {
      const part = this.parts[this.next]!;
      try {
        const r = part.start?.();
        if (r instanceof Promise) throw new HubError('internal', `lifecycle part "${part.name}" cannot be opened synchronously`);
      } catch (err) {
        this.stopStartedSync();
        throw err;
      }
      this.started.push(part);
      this.next++;
    }
  }

  /** Starts the remaining parts in order. When one fails, the ones started before it stop, in reverse, and its error is thrown. */
  async start(): Promise<void> {
    if (this.stopping) throw new HubError('internal', 'the hub is stopping');
    while (this.next < this.parts.length) {
      const part = this.parts[this.next]!;
      try {
        await part.start?.();
      } catch (err) {
        await this.stop();
        throw err;
      }
      if (this.stopping) {
        // stop() was called while this part was starting: it missed it, so stop it here.
        await this.stopOne(part);
        return;
      }
      this.started.push(part);
      this.next++;
    }
  }

  /** Stops every started part, last started first; one failing stop does not keep the others running. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.next = this.parts.length; // nothing starts after a stop
      for (let part = this.started.pop(); part; part = this.started.pop()) await this.stopOne(part);
    })();
    return this.stopping;
  }

  private async stopOne(part: Part): Promise<void> {
    try {
      await part.stop?.();
    } catch (err) {
      this.opts.onStopError?.(part.name, err);
    }
  }

  private stopStartedSync(): void {
    for (let part = this.started.pop(); part; part = this.started.pop()) {
      try {
        void part.stop?.();
      } catch (err) {
        this.opts.onStopError?.(part.name, err);
      }
    }
  }
}

/**
 * A background worker's schedule (the inbox's, the outbox's): run batches at once on start, on
 * every `wake()` (new work was stored in this process), and every `idleMs` (work from other
 * processes, retries coming due). A batch as large as `batchSize` means more may be waiting, so
 * the next runs at once, after a turn of the event loop. A wake during a run is remembered, never
 * dropped nor run concurrently.
 */
export class WakeLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private again = false;

  constructor(
    private readonly o: {
      /** One batch; how many items it took. */
      runOnce: () => Promise<number>;
      batchSize: number;
      idleMs: number;
      /** Told when a batch throws; the loop tries again at its next tick. */
      onError: (err: unknown) => void;
    },
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.wake();
  }

  wake(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (!this.started) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.o.idleMs);
        this.timer.unref();
      }
    });
  }

  /** Stops scheduling; resolves when the batch in hand has finished. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.started && (await this.o.runOnce()) >= this.o.batchSize) await new Promise((r) => setImmediate(r));
    } catch (err) {
      this.o.onError(err);
    }
  }
}
