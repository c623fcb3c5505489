import { describeError, errorsUnder } from '../../errors.js';
import { isRecord } from '../../is-record.js';
import { describeIssues } from '../hub-server.js';

/** Node's network error codes a downstream connection meets, as a person would say them. */
const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  UND_ERR_SOCKET: 'connection closed by the server',
};

/** The network failure under an error, where its cause chain holds one. */
export interface NetworkCause {
  code: string;
  /** e.g. `connection refused (ECONNREFUSED 127.0.0.1:8080)` */
  text: string;
  /** No connection was made: the request never reached the server. */
  refused: boolean;
}

/** Codes of a connection that was never made (as against one that broke). */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The network failure an error wraps: fetch's `TypeError('fetch failed')` keeps it as `cause`, the
 * SDK's version probe wraps that again, and Node's connect to a name with several addresses
 * (localhost: ::1 and 127.0.0.1) rejects with an AggregateError of one per address.
 */
export function networkCause(err: unknown): NetworkCause | undefined {
  for (const e of errorsUnder(err)) {
    const code = e['code'];
    if (typeof code === 'string' && Object.hasOwn(NETWORK_CODES, code))
      return { code, text: `${NETWORK_CODES[code]} (${code}${where(e)})`, refused: NOT_CONNECTED.has(code) };
  }
  return undefined;
}

/** Whether a failure means the server could not be reached at all (nothing was sent, or the connection broke). */
export function isUnreachable(err: unknown): boolean {
  return networkCause(err) !== undefined;
}

/**
 * An error met connecting to (or calling) a downstream, said by its cause: the network failure
 * under fetch's bare "fetch failed", and never the SDK's account of how its version probe was
 * made (a transport that "probed in place"), which tells a user nothing about their server.
 */
export function describeConnectError(err: unknown): string {
  const net = networkCause(err);
  if (net) return net.text;
  return withIssuesOnOneLine(describeError(err).replace(/ \(this transport probed in place[^)]*\)/, ''));
}

/**
 * The SDK words an answer that fails its schema (an initialize result without `capabilities`) as
 * `Invalid result for initialize: ` and zod's issues as indented JSON: a dozen lines in /readyz,
 * doctor and the log. Said on one line instead: `capabilities: Invalid input: expected object, …`.
 */
function withIssuesOnOneLine(text: string): string {
  const at = text.indexOf(': [');
  if (at === -1) return text;
  try {
    const parsed: unknown = JSON.parse(text.slice(at + 2));
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isRecord)) return text;
    return `${text.slice(0, at)}: ${describeIssues(parsed)}`;
  } catch {
    return text;
  }
}

function where(e: Record<string, unknown>): string {
  const [address, port] = [e['address'], e['port']];
  if (typeof address !== 'string') return typeof e['hostname'] === 'string' ? ` ${e['hostname']}` : '';
  const host = address.includes(':') ? `[${address}]` : address;
  return typeof port === 'number' ? ` ${host}:${port}` : ` ${host}`;
}
