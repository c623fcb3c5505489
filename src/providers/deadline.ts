import { HubError } from '../errors.js';

/**
 * How long the provider may take to answer one request, body included: a call without it waited
 * 301 s on an API that never answered (the OS's TCP timeout). Armed at each attempt and stopped
 * while waiting out a Retry-After (that wait is bounded by maxRetryAfterMs instead). Once it fires
 * the call is over: a request that got no answer in time is not sent again. The caller's own
 * signal (the MCP request being cancelled) aborts it too.
 */
export class Deadline {
  private readonly ctl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly unlink: () => void;

  constructor(
    private readonly ms: number,
    private readonly label: string,
    outer: readonly (AbortSignal | null | undefined)[],
  ) {
    const signals = outer.filter((s): s is AbortSignal => s instanceof AbortSignal);
    const onAbort = (e: Event) => this.ctl.abort((e.target as AbortSignal).reason);
    for (const s of signals) {
      if (s.aborted) this.ctl.abort(s.reason);
      else s.addEventListener('abort', onAbort, { once: true });
    }
    this.unlink = () => {
      for (const s of signals) s.removeEventListener('abort', onAbort);
    };
  }

  arm(): void {
    clearTimeout(this.timer);
    const { ms, label } = this;
    this.timer = setTimeout(
      () => this.ctl.abort(new HubError('provider_timeout', `${label} did not answer within ${ms} ms`, { details: { timeoutMs: ms } })),
      ms,
    );
    // A response its caller never reads must not keep the process alive until the deadline.
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** The call is over: stop the timer; with a reason, also abort what is still running. */
  finish(reason?: unknown): void {
    clearTimeout(this.timer);
    this.unlink();
    if (reason !== undefined && !this.ctl.signal.aborted) this.ctl.abort(reason);
  }

  /** What to throw for `err`: once aborted, the reason (our timeout or the caller's cancel) explains it. */
  explain(err: unknown): unknown {
    return this.ctl.signal.aborted ? this.ctl.signal.reason : err;
  }
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
