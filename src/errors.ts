/**
 * One error base class with a code union, and one table that maps every code to its outcomes.
 * A code without a row in ERROR_SPECS does not compile.
 */
export type HubErrorCode =
  | 'config_invalid'
  | 'config_not_found'
  | 'store_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'origin_rejected'
  | 'host_rejected'
  | 'body_too_large'
  | 'request_timeout'
  | 'bad_request'
  | 'not_found'
  | 'tool_not_found'
  | 'invalid_params'
  | 'source_unavailable'
  | 'source_timeout'
  | 'source_crashed'
  | 'downstream_error'
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
  | 'oauth_flow_failed'
  | 'vault_key_missing'
  | 'vault_decrypt_failed'
  | 'internal';

export interface ErrorSpec {
  /** HTTP status when the error answers an HTTP request. */
  http: number;
  /** How MCP shows it: a JSON-RPC error code, or a tool result with isError. */
  mcp: { kind: 'jsonrpc'; code: number } | { kind: 'tool_result' };
  retryable: boolean;
}

export const ERROR_SPECS = {
  config_invalid: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false },
  config_not_found: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false },
  store_failed: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: true },
  unauthorized: { http: 401, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false },
  forbidden: { http: 403, mcp: { kind: 'jsonrpc', code: -32001 }, retryable: false },
  origin_rejected: { http: 403, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false },
  host_rejected: { http: 403, mcp: { kind: 'jsonrpc', code: -32000 }, retryable: false },
  body_too_large: { http: 413, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false },
  request_timeout: { http: 408, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: true },
  bad_request: { http: 400, mcp: { kind: 'jsonrpc', code: -32600 }, retryable: false },
  not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32601 }, retryable: false },
  tool_not_found: { http: 404, mcp: { kind: 'jsonrpc', code: -32602 }, retryable: false },
  invalid_params: { http: 400, mcp: { kind: 'jsonrpc', code: -32602 }, retryable: false },
  source_unavailable: { http: 503, mcp: { kind: 'tool_result' }, retryable: true },
  source_timeout: { http: 504, mcp: { kind: 'tool_result' }, retryable: true },
  source_crashed: { http: 502, mcp: { kind: 'tool_result' }, retryable: true },
  downstream_error: { http: 502, mcp: { kind: 'tool_result' }, retryable: false },
  cancelled: { http: 499, mcp: { kind: 'tool_result' }, retryable: false },
  connection_required: { http: 403, mcp: { kind: 'tool_result' }, retryable: false },
  connection_needs_reauth: { http: 403, mcp: { kind: 'tool_result' }, retryable: false },
  connection_revoked: { http: 403, mcp: { kind: 'tool_result' }, retryable: false },
  token_refresh_failed: { http: 503, mcp: { kind: 'tool_result' }, retryable: true },
  provider_timeout: { http: 504, mcp: { kind: 'tool_result' }, retryable: true },
  provider_unreachable: { http: 502, mcp: { kind: 'tool_result' }, retryable: true },
  provider_redirect_refused: { http: 502, mcp: { kind: 'tool_result' }, retryable: false },
  provider_response_too_large: { http: 502, mcp: { kind: 'tool_result' }, retryable: false },
  provider_unauthorized: { http: 502, mcp: { kind: 'tool_result' }, retryable: false },
  oauth_flow_failed: { http: 400, mcp: { kind: 'tool_result' }, retryable: false },
  vault_key_missing: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false },
  vault_decrypt_failed: { http: 500, mcp: { kind: 'tool_result' }, retryable: false },
  internal: { http: 500, mcp: { kind: 'jsonrpc', code: -32603 }, retryable: false },
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

export function isHubError(err: unknown): err is HubError {
  return err instanceof HubError;
}

/** A short, secret-free description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
