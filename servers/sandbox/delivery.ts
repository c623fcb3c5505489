import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../src/clock.js';
import type { SandboxEvent } from './events-store.js';
import { publicId } from './secrets.js';
import { signDelivery } from './signature.js';
import type { DeliveryTarget } from './webhooks-store.js';

/** Waits `ms` before a retry; rejects when `signal` aborts. Tests pass one that moves a manual clock. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface DispatcherOptions {
  clock: Clock;
  fetch: typeof fetch;
  sleep: Sleep;
  /** Waits between attempts: `[1000, 5000]` is three attempts in all. */
  retryDelaysMs: readonly number[];
  /** Per attempt, headers and status line; the body is never read. */
  timeoutMs: number;
  /** Share in [0, 1] of deliveries silently not sent. */
  drop: number;
  /** Seeds the drop draws, so a test sees the same deliveries dropped on every run. */
  seed?: number | undefined;
  /** Deliveries in flight at once. */
  concurrency: number;
}

export interface DeliveryStats {
  /** Deliveries answered 2xx. */
  delivered: number;
  /** Deliveries refused (3xx, 4xx) or out of attempts. */
  failed: number;
  /** Deliveries the drop share chose not to send. */
  dropped: number;
  /** HTTP attempts made, retries included. */
  attempts: number;
}

interface Delivery {
  /** `webhook-id`: one per (event, endpoint), the same on every retry of it. */
  id: string;
  target: DeliveryTarget;
  body: string;
}

type Outcome = 'delivered' | 'retry' | 'refused';

/**
 * Sends each event to its endpoints as Standard Webhooks, after the change committed and never on
 * the request's path: a queue drained by a few concurrent senders, each delivery retried on a
 * network error, timeout or 5xx with the configured waits, and given up on any other answer.
 */
export class WebhookDispatcher {
  readonly stats: DeliveryStats = { delivered: 0, failed: 0, dropped: 0, attempts: 0 };
  private readonly queue: Delivery[] = [];
  private active = 0;
  private idle: (() => void)[] = [];
  private readonly stop = new AbortController();
  private readonly random: () => number;
  private share: number;

  constructor(private readonly opts: DispatcherOptions) {
    this.random = mulberry32(opts.seed ?? randomBytes(4).readUInt32LE(0));
    this.share = opts.drop;
  }

  /** Queues one delivery of `event` per target, in the targets' order. */
  publish(event: SandboxEvent, targets: readonly DeliveryTarget[]): void {
    if (this.stop.signal.aborted) return;
    const body = JSON.stringify(event);
    for (const target of targets) {
      // One draw per delivery at any share, so one seed draws the same sequence whatever the share.
      if (this.random() < this.share) {
        this.stats.dropped++;
        continue;
      }
      this.queue.push({ id: publicId('msg'), target, body });
    }
    this.pump();
  }

  setDrop(share: number): void {
    this.share = share;
  }

  get drop(): number {
    return this.share;
  }

  /** Resolves once nothing is queued or in flight (retries and their waits included). */
  flush(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Abandons queued deliveries and aborts those in flight. */
  close(): void {
    this.queue.length = 0;
    this.stop.abort();
    this.settle();
  }

  private pump(): void {
    while (this.active < this.opts.concurrency && this.queue.length > 0) {
      const delivery = this.queue.shift()!;
      this.active++;
      void this.deliver(delivery).finally(() => {
        this.active--;
        this.pump();
        this.settle();
      });
    }
  }

  private settle(): void {
    if (this.active > 0 || this.queue.length > 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  private async deliver(d: Delivery): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(d);
      if (this.stop.signal.aborted) return;
      if (outcome === 'delivered') return void this.stats.delivered++;
      const wait = outcome === 'retry' ? this.opts.retryDelaysMs[attempt] : undefined;
      if (wait === undefined) return void this.stats.failed++;
      try {
        await this.opts.sleep(wait, this.stop.signal);
      } catch {
        return;
      }
    }
  }

  private async attempt(d: Delivery): Promise<Outcome> {
    this.stats.attempts++;
    // Signed afresh per attempt: the receiver's timestamp window must see the retry's own time.
    const signed = signDelivery(d.target.secret, d.id, this.opts.clock.now(), d.body);
    try {
      const res = await this.opts.fetch(d.target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'switchboard-sandbox-webhooks/1', ...signed },
        body: d.body,
        // A webhook sender does not follow redirects: the registered URL is the one that is signed for.
        redirect: 'manual',
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return 'delivered';
      return res.status >= 500 ? 'retry' : 'refused';
    } catch {
      return 'retry';
    }
  }
}

/** The real wait between retries; it does not keep the process alive on its own. */
export const realSleep: Sleep = (ms, signal) => delay(ms, undefined, { signal, ref: false });

/** A small seeded PRNG (mulberry32): uniform in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
