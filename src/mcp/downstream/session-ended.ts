import { once } from 'node:events';
import { SdkHttpError } from '@modelcontextprotocol/client';
import type { RelatingFetch } from './relating-fetch.js';

/**
 * An HTTP server's 404 to a request that carried the hub's `Mcp-Session-Id`: the server no longer
 * knows the session (it restarted, or expired it), so it did not act on the request. The 2025
 * transport spec has the client start a new session then; the source reconnects, and a request
 * that met this is sent once more on the new session (`againOnNewSession`).
 */
export class SessionEnded extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the server no longer knows the hub’s session (HTTP 404 to a request with its Mcp-Session-Id: it restarted or expired the session)', options);
    this.name = 'SessionEnded';
  }
}

/** The error a request failed with as the source is to see it: a 404 sent with a session is SessionEnded. */
export function sessionEndedOr(error: unknown, hadSession: boolean): unknown {
  if (hadSession && error instanceof SdkHttpError && error.status === 404) return new SessionEnded({ cause: error });
  return error;
}

/**
 * The SDK transport's fetch, telling `onEnded` of each 404 to a POST sent with a session, and
 * `onDoubt` of a 404 to a GET sent with one (its standalone stream, reopened after a drop): a
 * server that restarted answers so, but so does one that routes only POST (a hand-written express
 * app, where the spec has 405), which a GET's 404 alone would have reconnected to for ever. A POST
 * then tells which (keepalive.ts).
 */
export function sessionWatchingFetch(fetch: RelatingFetch, onEnded: () => void, onDoubt: () => void): RelatingFetch {
  return async (input, init) => {
    const sent = new Headers(init?.headers).has('mcp-session-id');
    const response = await fetch(input, init);
    if (sent && response.status === 404) (init?.method === 'POST' ? onEnded : onDoubt)();
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
