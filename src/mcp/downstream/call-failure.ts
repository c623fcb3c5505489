import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';
import { HubError, describeError } from '../../errors.js';
import { isRecord } from '../../is-record.js';
import { cutText } from '../../providers/cut-text.js';
import { networkCause } from './connect-error.js';
import { UnresumableEnd } from './in-flight.js';
import { SessionEnded } from './session-ended.js';

/** What a failed downstream call is judged by. */
export interface FailedCall {
  /** The server's name in the config. */
  server: string;
  /** What was asked, e.g. `tool search`. */
  what: string;
  timeoutMs: number;
  /** The call's own signal: aborted means the caller cancelled. */
  signal: AbortSignal;
  /**
   * How the server ended, for a call cut by its exit, as the caller is told it: the exit code or
   * signal, and the stderr only from a process of the caller's own (transport-for.ts exitSummary).
   */
  exitSummary: () => string;
}

/**
 * Marks the error response the hub puts in place of a result the server wrote over
 * maxMessageBytes (stdio-transport.ts): that failure is the hub's, not the server's own error.
 */
export const OVERSIZE_MARK = { switchboard: 'result_over_maxMessageBytes' } as const;

/**
 * A downstream call's failure as the error its caller gets: the server's own JSON-RPC error as it
 * is (as if called directly), else the hub's error of the kind that happened (cancelled, timed
 * out, the server stopped mid-call, its result over maxMessageBytes, anything else), which a tool
 * call answers with an `isError` result naming the server.
 */
export function callFailure(err: unknown, c: FailedCall): Error {
  if (err instanceof ProtocolError && isOversize(err.data)) return new HubError('downstream_error', `${c.server}: ${c.what}: ${err.message}`, { cause: err });
  if (err instanceof ProtocolError) return err;
  // Not the caller's yet: the source sends the call again on a new session.
  if (err instanceof SessionEnded) return err;
  if (c.signal.aborted) return new HubError('cancelled', `${c.server}: ${c.what} was cancelled`, { cause: err });
  if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) {
    return new HubError('source_timeout', `${c.server}: ${c.what} timed out after ${c.timeoutMs} ms`, { cause: err });
  }
  if (err instanceof UnresumableEnd) return new HubError('downstream_error', `${c.server}: ${err.message}`, { cause: err });
  // The server could not be reached (refused, reset): retryable, named by its cause rather than
  // fetch's bare "fetch failed"; the source is reconnecting by now (source.ts).
  const net = networkCause(err);
  if (net) {
    const code = net.refused ? 'source_unavailable' : 'source_crashed';
    return new HubError(code, `${c.server}: ${net.text}; the hub is reconnecting to it`, { cause: err });
  }
  // The server answered the request with an HTTP error (its body, if any, rarely says why): the status names the cause.
  const http = httpStatusOf(err);
  if (http) {
    const refused = http.status === 401 || http.status === 403;
    const said = http.text ? ` (${http.text.length > 300 ? `${cutText(http.text, 300)}…` : http.text})` : '';
    const why = `${said}${refused ? `: it refused the credentials the hub sends (mcpServers.${c.server}.headers)` : ''}`;
    const code = http.status >= 500 || http.status === 429 ? 'source_unavailable' : 'downstream_error';
    return new HubError(code, `${c.server}: ${c.what}: the server answered HTTP ${http.status}${http.statusText ? ` ${http.statusText}` : ''}${why}`, {
      cause: err,
    });
  }
  if (
    err instanceof SdkError &&
    (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.NotConnected || err.code === SdkErrorCode.SendFailed)
  ) {
    return new HubError('source_crashed', `${c.server}: the server stopped during the call (${c.exitSummary()}); it is being restarted`, { cause: err });
  }
  return new HubError('downstream_error', `${c.server}: ${describeError(err)}`, { cause: err });
}

/** A failed resource read or prompt, typed, so the dispatcher takes the result, the outcome metric and the log level from the error table. */
export function asProtocolError(server: string, err: unknown, what: string): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError(ProtocolErrorCode.InternalError, `${server}: ${what} failed: ${describeError(err)}`);
}

function isOversize(data: unknown): boolean {
  return isRecord(data) && data['switchboard'] === OVERSIZE_MARK.switchboard;
}

/** An SDK transport's HTTP error (SdkHttpError, from either SDK package's copy): its status and status text. */
function httpStatusOf(err: unknown): { status: number; statusText: string | undefined; text: string | undefined } | undefined {
  if (!(err instanceof Error) || !('data' in err) || !isRecord(err.data)) return undefined;
  const { status, statusText, text } = err.data;
  if (typeof status !== 'number' || status < 400 || status > 599) return undefined;
  const nonEmpty = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  return { status, statusText: nonEmpty(statusText), text: nonEmpty(text) };
}
