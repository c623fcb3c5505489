import { once } from 'node:events';
import { SdkHttpError } from '@modelcontextprotocol/client';
import { isRecord } from '../../is-record.js';
import type { RelatingFetch } from './relating-fetch.js';

/**
 * An HTTP server's refusal of a request that carried the hub's `Mcp-Session-Id` because it no
 * longer knows the session (it restarted, or expired it), so it did not act on the request. The
 * 2025 transport spec has the client start a new session then; the source reconnects, and a
 * request that met this is sent once more on the new session (`againOnNewSession`).
 */
export class SessionEnded extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the server no longer knows the hub’s session (it refused a request with its Mcp-Session-Id: it restarted or expired the session)', options);
    this.name = 'SessionEnded';
  }
}

/**
 * Whether an HTTP answer to a request sent with a session says the server does not know that
 * session. The spec's answer is 404. Servers built on the SDKs' examples — server-everything
 * among them — keep a map of sessions and answer an id missing from it with 400 and a JSON-RPC
 * error ("Bad Request: No valid session ID provided", or "Server not initialized" where a fresh
 * transport is made for it); after their restart every old session meets that for ever. A 400
 * that names no session (bad params, an unsupported version) stays the error it is.
 */
export function endsSession(status: number, body: string | null | undefined): boolean {
  if (status === 404) return true;
  return status === 400 && typeof body === 'string' && NAMES_SESSION.test(jsonRpcErrorMessage(body) ?? '');
}

const NAMES_SESSION = /session|not initialized/i;

/** The message of a JSON-RPC error response, whatever its id (the examples answer with `id: null`). */
function jsonRpcErrorMessage(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const error = isRecord(parsed) ? parsed['error'] : undefined;
  const message = isRecord(error) ? error['message'] : undefined;
  return typeof message === 'string' ? message : undefined;
}

/** The error a request failed with as the source is to see it: a refusal of the session it was sent with is SessionEnded. */
export function sessionEndedOr(error: unknown, hadSession: boolean): unknown {
  if (hadSession && error instanceof SdkHttpError && endsSession(error.status, textOf(error))) return new SessionEnded({ cause: error });
  return error;
}

/** The answer's body, which the SDK transport (and the hub's fast path) keep on the error as `text`. */
function textOf(error: SdkHttpError): string | undefined {
  const text = error.data?.['text'];
  return typeof text === 'string' ? text : undefined;
}

/**
 * The SDK transport's fetch, telling `onEnded` of each refusal of the session to a POST sent with
 * it (`endsSession`), and `onDoubt` of one to a GET (its standalone stream, reopened after a
 * drop): a server that restarted answers so, but a 404 comes too from one that routes only POST
 * (a hand-written express app, where the spec has 405), which a GET's 404 alone would have
 * reconnected to for ever. A POST then tells which (keepalive.ts).
 */
export function sessionWatchingFetch(fetch: RelatingFetch, onEnded: () => void, onDoubt: () => void): RelatingFetch {
  return async (input, init) => {
    const sent = new Headers(init?.headers).has('mcp-session-id');
    const response = await fetch(input, init);
    if (sent && (response.status === 404 || response.status === 400)) {
      // A clone, so the SDK transport still reads the body it reports the error with; only JSON,
      // the one form a JSON-RPC error comes in (an event stream need never end).
      const json = /^application\/json\b/i.test(response.headers.get('content-type') ?? '');
      const body =
        response.status === 400 && json
          ? await response
              .clone()
              .text()
              .catch(() => null)
          : null;
      if (endsSession(response.status, body)) (init?.method === 'POST' ? onEnded : onDoubt)();
    }
    return response;
  };
}

/** What `againOnNewSession` needs of the source: whether it is reconnecting, and its next state. */
export interface Reconnecting {
  status(): { state: string };
  nextState(): Promise<void>;
}

/**
 * Sends a request once more after the server ended the session it went on: the refusal started
 * the source's new connection, which this waits for (or its failure) within the caller's signal.
 * A second SessionEnded is the caller's, as `last` words it.
 */
export async function againOnNewSession<T>(source: Reconnecting, signal: AbortSignal, send: () => Promise<T>, last: (err: SessionEnded) => Error): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof SessionEnded) || signal.aborted) throw err instanceof SessionEnded ? last(err) : err;
  }
  if (source.status().state === 'restarting') await Promise.race([source.nextState(), once(signal, 'abort')]);
  try {
    return await send();
  } catch (err) {
    throw err instanceof SessionEnded ? last(err) : err;
  }
}
