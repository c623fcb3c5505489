import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { RequestStates } from '../request-state.js';
import { inputResponsesProblem } from './input-answers.js';

/**
 * Names this process inside a held call's `requestState`. The state is signed with the store's
 * key, so any process on the data dir can read it and tell that the call is held elsewhere.
 */
export const PROCESS_ID = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;

/**
 * The id a task backing records as the holder of work in this process: PROCESS_ID and a suffix
 * (`#…`) of the backing's own, so the replica is found by the part before `#`.
 */
export function taskHolderId(suffix: string): string {
  return `${PROCESS_ID}#${suffix.slice(0, 8)}`;
}

/** The PROCESS_ID part of a `taskHolderId`; an id of another shape is taken whole. */
export function processOfHolder(holder: string): string {
  const hash = holder.lastIndexOf('#');
  return hash < 0 ? holder : holder.slice(0, hash);
}

/** A downstream server→client request in the 2026-07-28 `inputRequests` shape. */
export interface InputRequest {
  method: string;
  params?: Record<string, unknown>;
}

interface Pending {
  key: string;
  request: InputRequest;
  resolve: (answer: unknown) => void;
  reject: (err: Error) => void;
}

export type HeldOutcome = { result: CallToolResult } | { requests: Record<string, InputRequest> };

/**
 * A call to a 2025-era downstream made for a 2026-07-28 client. Such a downstream asks for input
 * with server→client requests during the call, while the client can only answer through
 * `input_required` and a retry: the downstream call stays open here between the rounds, its
 * requests go out as `inputRequests`, and the retry's `inputResponses` answer them.
 */
export class HeldCall {
  readonly id = randomUUID();
  /** Cancels the downstream call: the client gave up, the hold expired, or the hub stops. */
  readonly abort = new AbortController();
  private readonly waiting: Pending[] = [];
  private readonly asked = new Map<string, Pending>();
  private wake: (() => void) | undefined;
  private seq = 0;
  private failure: Error | undefined;
  private readonly settled: Promise<{ result: CallToolResult }>;

  constructor(result: Promise<CallToolResult>) {
    this.settled = result.then((r) => ({ result: r }));
    // Settled results are read by next(); an early rejection must not surface as unhandled.
    this.settled.catch(() => {});
  }

  /** The downstream's request: answered when the client's next round brings its response. */
  ask(request: InputRequest, signal: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { key: `input-${++this.seq}`, request, resolve, reject };
      this.waiting.push(pending);
      signal.addEventListener(
        'abort',
        () => {
          const i = this.waiting.indexOf(pending);
          if (i >= 0) this.waiting.splice(i, 1);
          this.asked.delete(pending.key);
          reject(new Error('the downstream server withdrew its request'));
        },
        { once: true },
      );
      this.wake?.();
    });
  }

  /** Waits for the call's result or for the input it needs next, whichever comes first. */
  async next(signal: AbortSignal): Promise<HeldOutcome> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.waiting.length > 0) {
        const requests: Record<string, InputRequest> = {};
        for (const p of this.waiting.splice(0)) {
          this.asked.set(p.key, p);
          requests[p.key] = p.request;
        }
        return { requests };
      }
      const woken = new Promise<undefined>((r) => {
        this.wake = () => r(undefined);
      });
      // The signal lives as long as the call, across rounds and wakes: its listener goes with each wait.
      const stop = aborted(signal);
      const outcome = await Promise.race([this.settled, woken, stop.promise]).finally(stop.off);
      this.wake = undefined;
      if (outcome) return outcome;
    }
  }

  /** Ends the call for its caller with this error (a request the caller cannot answer). */
  fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  /** Why `responses` cannot answer the last round's requests, or undefined when they can. */
  problemWith(responses: unknown): string | undefined {
    return inputResponsesProblem(new Map([...this.asked].map(([key, p]) => [key, p.request.method])), responses);
  }

  /** Hands the client's answers to the requests of the last round; an unanswered one is refused. */
  answer(responses: Readonly<Record<string, unknown>> | undefined): void {
    for (const [key, p] of this.asked) {
      const answer = responses?.[key];
      if (answer === undefined) p.reject(new Error(`the client did not answer ${p.request.method}`));
      else p.resolve(answer);
    }
    this.asked.clear();
  }
}

function aborted(signal: AbortSignal): { promise: Promise<never>; off: () => void } {
  let fail = () => {};
  const promise = new Promise<never>((_, reject) => {
    fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  return { promise, off: () => signal.removeEventListener('abort', fail) };
}

/** Held calls of this process, each kept until its next round or its expiry. */
export class HeldCalls {
  private readonly calls = new Map<string, { call: HeldCall; timer: NodeJS.Timeout }>();

  constructor(private readonly ttlMs = 600_000) {}

  hold(call: HeldCall): string {
    const timer = setTimeout(() => {
      this.calls.delete(call.id);
      call.abort.abort(new Error('the client did not come back with its answer in time'));
    }, this.ttlMs);
    timer.unref();
    this.calls.set(call.id, { call, timer });
    return encodeHeldState(call.id);
  }

  /** A held call, left held. */
  peek(id: string): HeldCall | undefined {
    return this.calls.get(id)?.call;
  }

  /** Removes and returns a held call; a call is resumed once per round. */
  take(id: string): HeldCall | undefined {
    const entry = this.calls.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.calls.delete(id);
    return entry.call;
  }

  abortAll(): void {
    for (const id of [...this.calls.keys()]) this.take(id)?.abort.abort(new Error('the hub is stopping'));
  }
}

const PREFIX = 'held:';

function encodeHeldState(id: string): string {
  return PREFIX + JSON.stringify({ p: PROCESS_ID, id });
}

/** The held call a `requestState` names, or undefined when it is not a held call's state. */
export function decodeHeldState(state: string | undefined): { process: string; id: string } | undefined {
  if (state === undefined || !state.startsWith(PREFIX)) return undefined;
  try {
    const v: unknown = JSON.parse(state.slice(PREFIX.length));
    if (typeof v === 'object' && v !== null && 'p' in v && 'id' in v && typeof v.p === 'string' && typeof v.id === 'string') return { process: v.p, id: v.id };
  } catch {
    // not ours: fall through
  }
  return undefined;
}

/**
 * The PROCESS_ID of the process holding the call a wire `requestState` resumes, read without
 * consuming it; undefined when the state is not a held call's or fails verification. The HTTP
 * face routes a retry to that process (src/replicas/forward.ts).
 */
export async function ownerOf(states: RequestStates, wire: string): Promise<string | undefined> {
  return decodeHeldState(await states.peek(wire))?.process;
}
