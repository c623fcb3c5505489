/**
 * One error base class with a code union, and one table that maps every code to its outcomes.
 * A code without a row in ERROR_SPECS does not compile.
 */
export type HubErrorCode =
  | 'config_invalid'
  | 'config_not_found'
  | 'store_failed'
  | 'store_not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'origin_rejected'
  | 'host_rejected'
  | 'body_too_large'
  | 'headers_too_large'
  | 'hub_starting'
  | 'hub_stopping'
  | 'result_too_large'
  | 'request_timeout'
  | 'bad_request'
  | 'parse_error'
  | 'unsupported_media_type'
  | 'header_mismatch'
  | 'session_required'
  | 'session_not_found'
  | 'too_many_sessions'
  | 'limit_reached'
  | 'not_found'
  | 'tool_not_found'
  | 'task_not_found'
  | 'invalid_params'
  | 'invalid_arguments'
  | 'source_unavailable'
  | 'source_timeout'
  | 'source_crashed'
  | 'downstream_error'
  | 'source_failed'
  | 'cancelled'
  | 'connection_required'
  | 'connection_needs_reauth'
  | 'connection_revoked'
  | 'token_refresh_failed'
  | 'provider_timeout'
  | 'provider_unreachable'
  | 'provider_redirect_refused'
  | 'provider_response_too_large'
  | 'provider_unauthorized'
  | 'circuit_open'
  | 'missing_header'
  | 'bad_signature'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_body'
  | 'inbox_unavailable'
  | 'auth_unavailable'
  | 'idempotency_conflict'
  | 'agent_not_configured'
  | 'oauth_flow_failed'
  | 'oauth_grant_rejected'
  | 'oauth_endpoint_unavailable'
  | 'vault_key_missing'
  | 'vault_decrypt_failed'
  | 'internal';

/**
 * Where a failed tool call's result names its code (`_meta`, a key of the hub's own namespace):
 * `{ code, retryable }`. A JSON-RPC error carries `{ code }` as its `data`.
 */
export const ERROR_META_KEY = 'switchboard/error';

export interface ErrorSpec {
  /** HTTP status when the error answers an HTTP request. */
  http: number;
  /** How MCP shows it: a JSON-RPC error code, or a tool result with isError. */
  mcp: { kind: 'jsonrpc'; code: number } | { kind: 'tool_result' };
  retryable: boolean;
  /**
   * The level the hub logs it at: `warn` for trouble outside the hub (providers, downstream
   * servers, a bad deployment), `info`/`debug` for a caller's mistake, `error` for the hub's own faults.
   */
  log: LogLevel;
  /** The `outcome` label of a tool call that ends with it (switchboard_tool_calls_total); `error` when absent. */
  outcome?: ErrorOutcome;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Outcomes of a tool call that ended with an error (`ok` and `tool_error` are the tool's own results). */
export type ErrorOutcome = 'error' | 'timeout' | 'cancelled' | 'unavailable' | 'crashed';

export const ERROR_SPECS = {
  config_invalid: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'error' },
  config_not_found: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'error' },
  // Inside a tool call (a refreshed token that could not be saved) the model may retry: a result, not a protocol error.
  store_failed: { http: 500, mcp: { kind: 'tool_result' }, retryable: true, log: 'error' },
  // Only the CLI's reading commands say it: a data dir with no store is not one to create there.
  store_not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'info' },
  unauthorized: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'info' },
  // Inside a tool call a refusal is a result the model can read (ARCHITECTURE.md, data flow 1).
  forbidden: { http: 403, mcp: { kind: 'tool_result' }, retryable: false, log: 'info' },
  origin_rejected: { http: 403, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false, log: 'warn' },
  host_rejected: { http: 403, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false, log: 'warn' },
  body_too_large: { http: 413, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false, log: 'info' },
  headers_too_large: { http: 431, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false, log: 'info' },
  // JSON-RPC 2.0 §5.1: -32000 to -32099 are the server's own; nothing was done, and a retry a moment later is served.
  hub_starting: { http: 503, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: true, log: 'info' },
  // A call the hub's stop cut short: cancelled at its server, to be made again once the hub is back.
  hub_stopping: { http: 503, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: true, log: 'info' },
  // The token was not judged (the store did not answer): nothing was done, a retry later is served.
  auth_unavailable: { http: 503, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: true, log: 'error' },
  // JSON-RPC 2.0 §5.1: the request was fine, the hub could not send its answer: an internal error (-32603).
  result_too_large: { http: 502, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'warn' },
  request_timeout: { http: 408, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: true, log: 'info' },
  bad_request: { http: 400, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false, log: 'info' },
  // JSON-RPC 2.0 §5.1: -32700 is for a body that is not JSON at all.
  parse_error: { http: 400, mcp: { kind: 'jsonrpc', code: -32700 }, retryable: false, log: 'info' },
  unsupported_media_type: { http: 415, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false, log: 'info' },
  // SEP-2243: Mcp-Param-* headers that disagree with the body.
  header_mismatch: { http: 400, mcp: { kind: 'jsonrpc', code: -32020 }, retryable: false, log: 'info' },
  session_required: { http: 400, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false, log: 'info' },
  // Streamable HTTP (2025-11-25): an unknown session id is a 404, after which the client starts a new session.
  session_not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'info' },
  too_many_sessions: { http: 503, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: true, log: 'warn' },
  limit_reached: { http: 429, mcp: { kind: 'jsonrpc', code: -32029 }, retryable: true, log: 'info' },
  not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32601 }, retryable: false, log: 'debug' },
  tool_not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32602 }, retryable: false, log: 'info' },
  // SEP-2663: a task id that is unknown, expired or another user's is -32602, as an unknown tool is.
  task_not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32602 }, retryable: false, log: 'info' },
  invalid_params: { http: 400, mcp: { kind: 'jsonrpc', code: -32602 }, retryable: false, log: 'info' },
  // SEP-1303: a tool's own arguments refused are a result the model reads and corrects, not a protocol error.
  invalid_arguments: { http: 400, mcp: { kind: 'tool_result' }, retryable: false, log: 'info' },
  source_unavailable: { http: 503, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'unavailable' },
  source_timeout: { http: 504, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'timeout' },
  source_crashed: { http: 502, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'crashed' },
  downstream_error: { http: 502, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  source_failed: { http: 500, mcp: { kind: 'tool_result' }, retryable: false, log: 'error' },
  cancelled: { http: 499, mcp: { kind: 'tool_result' }, retryable: false, log: 'debug', outcome: 'cancelled' },
  connection_required: { http: 403, mcp: { kind: 'tool_result' }, retryable: false, log: 'info' },
  connection_needs_reauth: { http: 403, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  connection_revoked: { http: 403, mcp: { kind: 'tool_result' }, retryable: false, log: 'info' },
  token_refresh_failed: { http: 503, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn' },
  provider_timeout: { http: 504, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'timeout' },
  provider_unreachable: { http: 502, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'unavailable' },
  provider_redirect_refused: { http: 502, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  provider_response_too_large: { http: 502, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  provider_unauthorized: { http: 502, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  // The integration's breaker is open after repeated 5xx, timeouts or network failures: fail fast until the probe.
  circuit_open: { http: 503, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'unavailable' },
  // Webhook deliveries (src/webhooks/schemes) answer over HTTP only; the MCP column mirrors `unauthorized` and `bad_request`.
  missing_header: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'info' },
  // A forgery or a secret that differs from the provider's: either way the operator should look.
  bad_signature: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'warn' },
  bad_timestamp: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'info' },
  // Only reported for a genuine signature: a replay, or a clock out of step with the provider's.
  stale_timestamp: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false, log: 'warn' },
  bad_body: { http: 400, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false, log: 'warn' },
  // The one 5xx a webhook delivery can get: nothing was stored, so the provider must send it again (with Retry-After).
  inbox_unavailable: { http: 503, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: true, log: 'error' },
  // A caller's idempotency key reused with other arguments: a result the model can read, nothing was queued.
  idempotency_conflict: { http: 409, mcp: { kind: 'tool_result' }, retryable: false, log: 'info' },
  agent_not_configured: { http: 409, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  oauth_flow_failed: { http: 400, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  // RFC 6749 §5.2: the token endpoint refused the grant; only a new authorization fixes it.
  oauth_grant_rejected: { http: 400, mcp: { kind: 'tool_result' }, retryable: false, log: 'warn' },
  oauth_endpoint_unavailable: { http: 503, mcp: { kind: 'tool_result' }, retryable: true, log: 'warn', outcome: 'unavailable' },
  vault_key_missing: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'error' },
  vault_decrypt_failed: { http: 500, mcp: { kind: 'tool_result' }, retryable: false, log: 'error' },
  internal: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false, log: 'error' },
} as const satisfies Record<HubErrorCode, ErrorSpec>;

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.details = options?.details;
  }

  get spec(): ErrorSpec {
    return ERROR_SPECS[this.code];
  }
}

/**
 * What a failed tool call's result carries under ERROR_META_KEY: its code, whether a retry may
 * work and, when the error knows it, how long to wait first (`retryAfterMs`), so that a client
 * need not read the text to schedule its retry.
 */
export function errorMeta(e: HubError): ErrorMeta {
  return errorMetaOf(e.code, e.details?.['retryAfterMs']);
}

export interface ErrorMeta {
  code: HubErrorCode;
  retryable: boolean;
  retryAfterMs?: number;
}

/** The same for a failure that is no HubError (a provider's answer turned into a tool result). */
export function errorMetaOf(code: HubErrorCode, wait?: unknown): ErrorMeta {
  const retryAfterMs = typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 ? Math.ceil(wait) : undefined;
  return { code, retryable: ERROR_SPECS[code].retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

export function isHubError(err: unknown): err is HubError {
  return err instanceof HubError;
}

/** Codes that MCP shows as a JSON-RPC error: the only ones that may fill a JSON-RPC error object. */
export type JsonRpcErrorCode = {
  [K in HubErrorCode]: (typeof ERROR_SPECS)[K]['mcp'] extends { kind: 'jsonrpc' } ? K : never;
}[HubErrorCode];

export function isJsonRpcCode(code: HubErrorCode): code is JsonRpcErrorCode {
  return ERROR_SPECS[code].mcp.kind === 'jsonrpc';
}

/** The table's JSON-RPC error code for `code`. */
export function jsonRpcCodeOf(code: JsonRpcErrorCode): number {
  return (ERROR_SPECS[code].mcp as { code: number }).code;
}

export interface HttpErrorAnswer<B> {
  status: number;
  body: B;
}

/**
 * An answer on the JSON-RPC endpoint (/mcp) before any message is handled: the status and the
 * error code from the table, the hub's own code in `data.code` as on every other JSON-RPC error
 * (docs/errors.md), beside what `data` says more.
 */
export function jsonRpcHttpError(
  code: JsonRpcErrorCode,
  message: string,
  opts: { id?: string | number | null; data?: Record<string, unknown> } = {},
): HttpErrorAnswer<{ jsonrpc: '2.0'; id: string | number | null; error: { code: number; message: string; data: Record<string, unknown> } }> {
  const error = { code: jsonRpcCodeOf(code), message, data: { code, ...opts.data } };
  return { status: ERROR_SPECS[code].http, body: { jsonrpc: '2.0', id: opts.id ?? null, error } };
}

/** An answer on any other route: `{ error: { code, message } }` with the table's status. */
export function httpError(code: HubErrorCode, message: string): HttpErrorAnswer<{ error: { code: HubErrorCode; message: string } }> {
  return { status: ERROR_SPECS[code].http, body: { error: { code, message } } };
}

/** Sends an answer on anything shaped like an express Response (this module imports no HTTP library). */
export function sendError<B>(res: { status(code: number): { json(body: B): unknown } }, answer: HttpErrorAnswer<B>): void {
  res.status(answer.status).json(answer.body);
}

/**
 * Any thrown value as a HubError: a HubError as it is, anything else under `fallback` with the
 * original kept as `cause` and its message behind `prefix` (the name of the part that failed).
 */
export function toHubError(err: unknown, fallback: HubErrorCode, prefix = ''): HubError {
  if (isHubError(err)) return err;
  return new HubError(fallback, `${prefix}${describeError(err)}`, { cause: err });
}

/** Whether a stored string names one of the table's codes (a code read back from the store). */
export function isHubErrorCode(code: string | null | undefined): code is HubErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_SPECS, code);
}

/** A call's failure that a new link of the account mends: the connection's refresh was refused, or it was revoked. */
export function needsNewLink(err: unknown): boolean {
  return isHubError(err) && (err.code === 'connection_needs_reauth' || err.code === 'connection_revoked');
}

/** The tool-call outcome label for an error, from the table. */
export function outcomeOf(err: HubError): ErrorOutcome {
  return err.spec.outcome ?? 'error';
}

/** A short, secret-free description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The errors under a failure, itself first: its `cause` chain and an AggregateError's `errors`
 * (fetch's `TypeError('fetch failed')` keeps the socket error as its cause, and Node's connect to
 * a name with several addresses, `localhost` say, rejects with one error per address). Bounded, so
 * a cycle or a deep chain costs nothing.
 */
export function errorsUnder(err: unknown): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  const queue: unknown[] = [err];
  for (let e = queue.shift(); e !== undefined && found.length < 16; e = queue.shift()) {
    if (typeof e !== 'object' || e === null || found.includes(e as Record<string, unknown>)) continue;
    const r = e as Record<string, unknown>;
    found.push(r);
    if (Array.isArray(r['errors'])) queue.push(...(r['errors'] as unknown[]));
    if ('cause' in r) queue.push(r['cause']);
  }
  return found;
}

/** The system error codes (`ECONNREFUSED`, …) under a failure, outermost first. */
export function errorCodesUnder(err: unknown): string[] {
  const codes: string[] = [];
  for (const e of errorsUnder(err)) if (typeof e['code'] === 'string') codes.push(e['code']);
  return codes;
}
