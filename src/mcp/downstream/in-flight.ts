import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode, type Notification } from '@modelcontextprotocol/server';
import { identityKey, type Identity } from '../../identity/identity.js';
import { describeConnectError } from './connect-error.js';
import type { InputRequest } from './held-calls.js';

/** A call in flight on a connection to a downstream server: whose it is and how to reach its caller. */
export interface InFlight {
  /** Stamped on the call's answer stream by a 2025-era HTTP server, so its messages relate to it. */
  id: string;
  identity: Identity;
  /** Server→client requests of this call still waiting for the caller's answer. */
  parked: number;
  /** What the caller declared; undefined when its face does not know. */
  capabilities: Record<string, unknown> | undefined;
  notify: (n: Notification) => Promise<void>;
  /** Puts a downstream server→client request to the caller; absent when the caller cannot answer one. */
  ask?: (req: InputRequest, signal: AbortSignal) => Promise<unknown>;
  /** Ends the caller's SSE stream so it reconnects: the downstream did so to the hub (SEP-1699). */
  closeSSE?: () => void;
  /** The caller's client connection (CallContext.caller). */
  caller: object | undefined;
  /** Ends the caller's call with this protocol error (a held call: the caller gets it, not the downstream's reaction). */
  refuse?: (err: ProtocolError) => void;
  /**
   * The signal the call's request is sent with: the caller's own, or aborted with `brokenStream`
   * when the call's answer stream broke and will not be resumed, since no answer can come then.
   */
  request: AbortController;
}

/**
 * The one call of `calls` a downstream's server→client request or log message belongs to. A
 * 2025-era HTTP server sends them on the call's own answer stream, which relates them exactly
 * (`tag`). Elsewhere (stdio, a session's standalone stream) nothing on the wire says whose they
 * are: a message is delivered when one call is in flight; when every call in flight is one
 * identity's, to the only one not already waiting for its caller's answer; when every call came on
 * one client connection (a desktop client's parallel calls over stdio, one 2025 session's), to the
 * latest of them not waiting, since that client is the one to answer whichever call it serves.
 * Otherwise it is refused: a guess could show one user, or one user's other client, what was meant
 * elsewhere. `sharedProcess`: a stdio process all users share, which the refusal names.
 */
export function ownerOf(calls: ReadonlyMap<string, InFlight>, what: string, tag: string | undefined, sharedProcess: boolean): InFlight {
  if (tag !== undefined) {
    const call = calls.get(tag);
    if (call) return call;
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `${what} refused: the call it belongs to has ended`);
  }
  const all = [...calls.values()];
  if (all.length === 1) return all[0]!;
  if (all.length === 0) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `${what} refused: no call of this client is in progress to relate it to`);
  const free = all.filter((c) => c.parked === 0);
  if (new Set(all.map((c) => identityKey(c.identity))).size === 1 && free.length === 1) return free[0]!;
  const caller = all[0]!.caller;
  if (caller !== undefined && all.every((c) => c.caller === caller)) return free.at(-1) ?? all.at(-1)!;
  throw new ProtocolError(
    ProtocolErrorCode.InvalidRequest,
    `${what} refused: ${all.length} calls are in progress on this connection and the hub cannot tell which one it belongs to` +
      (sharedProcess ? ' (isolation "user" gives each user a process of their own)' : ''),
  );
}

/**
 * What a call fails with when its answer stream broke (the connection reset or closed mid-answer)
 * and will not be resumed: the SDK rejects the request with it, and the failure keeps the network
 * error as its cause, so the caller is told that cause, retryably, and the source reconnects
 * (call-failure.ts, source.ts).
 */
export function brokenStream(cause: unknown): Error {
  // Ended whole, not broken: no network cause to tell; the call fails as the server's doing.
  if (cause instanceof UnresumableEnd) return cause;
  const err = new SdkError(SdkErrorCode.ConnectionClosed, `the call's answer stream broke: ${describeConnectError(cause)}`);
  err.cause = cause;
  return err;
}

/** Aborts `request` when `signal` aborts (the caller went away), with its reason; returns the undo. */
export function follow(signal: AbortSignal, request: AbortController): () => void {
  if (signal.aborted) {
    request.abort(signal.reason);
    return () => {};
  }
  const onAbort = () => request.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * A call's answer stream the server ended whole, before the answer and with no event id to resume
 * from: no answer can come, so the call fails at once (a downstream_error naming this) rather than
 * wait out its timeout.
 */
export class UnresumableEnd extends SdkError {
  constructor() {
    // An SdkError: the SDK rejects an aborted request with its signal's reason only when it is one.
    super(SdkErrorCode.ConnectionClosed, "the server ended the call's answer stream before the answer, with no event id to resume from");
  }
}
