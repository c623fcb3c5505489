import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';
import type { Response } from 'express';
import type { EventStreamAnswer } from './answer.js';

/** What the SDK's Protocol waits for a server→client request before giving up, unless told otherwise. */
export const DEFAULT_ASK_TIMEOUT_MS = 60_000;

/** A stream the hub closed mid-call (SEP-1699) is kept this long for the client to resume it. */
const PARKED_MS = 5 * 60_000;
/**
 * How long the stream of a cancelled call stays open, quiet, and how many a session keeps: each
 * holds a connection the per-identity limits do not count, so a client that cancels call after
 * call must not pile them up (past either bound the stream ends, as the session's close ends it).
 */
export const SILENT_MS = 30_000;
export const SILENT_PER_SESSION = 8;

/** A server→client request of a direct call, as the call context hands it over. */
export interface AskRequest {
  method: string;
  params?: Record<string, unknown>;
}

/** Why a call was aborted when its client sent notifications/cancelled: its stream then stays open, as the SDK's does. */
/** The hub is stopping: a call still under way is answered `hub_stopping`, not left without an answer. */
export class HubStopping extends Error {
  override readonly name = 'HubStopping';
  constructor() {
    super('the hub is stopping');
  }
}

export class CancelledByClient extends Error {
  /** The client's reason as it gave it: the SDK passes `String(reason)` on to the downstream's notifications/cancelled, which read "Error: …". */
  override toString(): string {
    return this.message;
  }
}

interface Waiting {
  out: EventStreamAnswer;
  /** Withdraws it at the client (notifications/cancelled) and rejects with `reason`. */
  cancel(reason: unknown): void;
  settle(message: { result?: unknown; error?: { code: number; message: string; data?: unknown } }): void;
  fail(err: Error): void;
}

/**
 * What one 2025 session holds for its direct calls (src/mcp/direct-call.ts): the calls in flight
 * by request id, for `notifications/cancelled`; the server→client requests they sent on their
 * answer streams, waiting for the client's POSTed response; and the answer streams the hub closed
 * mid-call for the client to come back to with `Last-Event-ID`.
 */
export class SessionCalls {
  readonly inflight = new Map<string | number, AbortController>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly parked = new Map<string, { out: EventStreamAnswer; timer: NodeJS.Timeout }>();
  /** Streams of calls their client cancelled, left open without an answer until the client closes them. */
  /** Streams of cancelled calls, oldest first, with the timer that ends each. */
  private readonly silent = new Map<EventStreamAnswer, NodeJS.Timeout>();
  private seq = 0;

  /**
   * Sends a request to the client on the call's stream and resolves with its result. Ids are
   * strings of the hub's own, so they never meet the SDK's numeric ids on the same session. As in
   * the SDK: an aborted or timed-out request is cancelled at the client too, and an error answer
   * rejects with its code.
   */
  ask(out: EventStreamAnswer, req: AskRequest, opts: { signal: AbortSignal; timeoutMs?: number }): Promise<unknown> {
    const id = `switchboard-${++this.seq}`;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const cancel = (reason: unknown) => {
        done();
        void out.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: reason instanceof Error ? reason.message : String(reason) },
        });
        reject(reason);
      };
      const onAbort = () => cancel(opts.signal.reason);
      const timer = setTimeout(() => cancel(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs })), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        this.waiting.delete(id);
      };
      if (opts.signal.aborted) {
        clearTimeout(timer);
        reject(opts.signal.reason);
        return;
      }
      opts.signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(id, {
        out,
        cancel,
        settle: ({ result, error }) => {
          done();
          if (error) reject(new ProtocolError(error.code, error.message, error.data));
          else resolve(result);
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
      void out.send({ jsonrpc: '2.0', id, method: req.method, params: req.params ?? {} });
    });
  }

  /**
   * The call these requests belong to ended (cancelled, or its client went away): they are
   * withdrawn at once, while the call's stream can still say so, not when the downstream's own
   * cancellation reaches them.
   */
  withdraw(out: EventStreamAnswer, reason: unknown): void {
    for (const w of [...this.waiting.values()]) if (w.out === out) w.cancel(reason);
  }

  /** A client's response to one of `ask`'s requests: settles it and says true; anything else is not ours. */
  answer(body: unknown): boolean {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
    const m = body as { id?: unknown; result?: unknown; error?: unknown; method?: unknown };
    if (typeof m.id !== 'string' || m.method !== undefined) return false;
    const waiting = this.waiting.get(m.id);
    if (!waiting) return false;
    if (isError(m.error)) waiting.settle({ error: m.error });
    else if (m.result !== undefined) waiting.settle({ result: m.result });
    else waiting.settle({ error: { code: ProtocolErrorCode.InvalidRequest, message: 'the client answered with neither a result nor an error' } });
    return true;
  }

  /** Keeps a stream the hub closed mid-call until the client resumes it or PARKED_MS pass. */
  park(key: string, out: EventStreamAnswer): void {
    this.unpark(key);
    const timer = setTimeout(() => {
      this.parked.delete(key);
      out.drop();
    }, PARKED_MS);
    timer.unref();
    this.parked.set(key, { out, timer });
  }

  /**
   * A call its client cancelled gets no answer, and its stream is not ended either: the SDK's
   * transport leaves it open, and a client that saw the stream's priming id would otherwise take
   * the end for a drop and try to resume it. It ends when the client closes it or the session goes.
   */
  keepOpen(out: EventStreamAnswer): void {
    if (this.silent.size >= SILENT_PER_SESSION) this.unsilence(this.silent.keys().next().value)?.drop();
    const timer = setTimeout(() => this.unsilence(out)?.drop(), SILENT_MS);
    timer.unref();
    this.silent.set(out, timer);
    out.silence(() => this.unsilence(out));
  }

  private unsilence(out: EventStreamAnswer | undefined): EventStreamAnswer | undefined {
    const timer = out && this.silent.get(out);
    if (!out || timer === undefined) return undefined;
    clearTimeout(timer);
    this.silent.delete(out);
    return out;
  }

  /** A GET with `Last-Event-ID` of a parked stream: the call's stream goes on on this response. */
  resume(lastEventId: string, res: Response): boolean {
    const key = lastEventId.split('::')[0] ?? '';
    const out = this.unpark(key);
    if (!out) return false;
    out.attach(res);
    return true;
  }

  /** The session is gone: its calls end, their requests fail, parked streams are dropped. */
  close(reason: Error): void {
    for (const call of this.inflight.values()) call.abort(reason);
    for (const w of [...this.waiting.values()]) w.fail(new SdkError(SdkErrorCode.ConnectionClosed, reason.message));
    for (const key of [...this.parked.keys()]) this.unpark(key)?.drop();
    for (const out of [...this.silent.keys()]) this.unsilence(out)?.drop();
  }

  private unpark(key: string): EventStreamAnswer | undefined {
    const p = this.parked.get(key);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.parked.delete(key);
    return p.out;
  }
}

function isError(v: unknown): v is { code: number; message: string; data?: unknown } {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as { code?: unknown; message?: unknown };
  return typeof e.code === 'number' && typeof e.message === 'string';
}
