import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Clock } from '../../clock.js';
import { HubError } from '../../errors.js';

/** What a call asks, as its timeout names it: a tool, or another request (`resource test://x`). */
export type CallOf = { tool: string } | { other: string };

/**
 * One call's own timeout (`timeoutMs`) as its waits for the server spend it: a call that finds the
 * server starting or restarting waits for it within that timeout, and its request gets what is
 * left, so the whole call is bounded by the timeout its caller configured (not one per wait and a
 * fresh one for the request, which made a 2 s call take over 3 s).
 */
export class CallBudget {
  /** What the waits took, in ms. */
  private spent = 0;
  private readonly server: string;
  private readonly clock: Clock;
  readonly totalMs: number;

  /** For a call to this server: its name, its clock and its `timeoutMs`. */
  constructor(server: { name: string; clock: Clock; config: { timeoutMs: number } }) {
    this.server = server.name;
    this.clock = server.clock;
    this.totalMs = server.config.timeoutMs;
  }

  /** What is left for the rest of the call, in ms (0 or less: nothing). */
  get leftMs(): number {
    return this.totalMs - this.spent;
  }

  /**
   * Waits for `settles` within what is left, counting the time it took against the budget: true
   * when it settled in time, false when the time ran out or the caller went away first.
   */
  async waitFor(settles: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    const from = this.clock.now();
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => {};
    try {
      return await Promise.race([
        settles.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, this.leftMs));
          onAbort = () => resolve(false);
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      this.spent += Math.max(0, this.clock.now() - from);
    }
  }

  /**
   * A call out of time, as the source reports its own timeouts: a tool call as `source_timeout`
   * (call-failure.ts), a read, prompt or completion as a JSON-RPC error (source.ts).
   */
  private timedOut(of: CallOf): Error {
    const what = 'tool' in of ? `tool ${of.tool}` : of.other;
    const message = `${this.server}: ${what} timed out after ${this.totalMs} ms (${this.spent} ms of it waiting for the server to start)`;
    return 'tool' in of ? new HubError('source_timeout', message) : new ProtocolError(ProtocolErrorCode.InternalError, message);
  }

  /**
   * Sends the call's request within what the waits left: past that, the request's signal is
   * aborted (the downstream hears of it as of any cancel) and the call fails as timed out. A call
   * that waited for nothing runs as it is, its request's own timeout being the whole call's.
   */
  async run<C extends { signal: AbortSignal }, T>(ctx: C, of: CallOf, request: (ctx: C) => Promise<T>): Promise<T> {
    if (this.spent === 0) return request(ctx);
    const timedOut = () => this.timedOut(of);
    if (this.leftMs <= 0) throw timedOut();
    const { signal } = ctx;
    const cut = new AbortController();
    const follow = () => cut.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      cut.abort(timedOut());
    }, this.leftMs);
    try {
      return await request({ ...ctx, signal: cut.signal });
    } catch (err) {
      // Cancelled by the budget, not by its caller: said as the timeout it is.
      throw expired && !signal.aborted ? timedOut() : err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', follow);
    }
  }
}
