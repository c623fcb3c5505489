import type { JsonRpcErrorCode } from '../errors.js';
import { isRecord } from '../is-record.js';

/**
 * The hub's code for a JSON-RPC error the SDK's HTTP transport answered by itself, by its JSON-RPC
 * code. -32601 is a 2026-07-28 request for a method the hub does not serve (`tasks/list`,
 * `tasks/result`, a typo): SEP-2575 has it answered with HTTP 404, which must not read as the
 * 404 of an unknown session.
 */
const BY_RPC_CODE: Readonly<Record<number, JsonRpcErrorCode>> = {
  [-32700]: 'parse_error',
  [-32600]: 'bad_request',
  [-32601]: 'not_found',
  [-32602]: 'invalid_params',
};

/** …else by the HTTP status (the SDK's transport answers -32000 with these). */
const BY_STATUS: Readonly<Record<number, JsonRpcErrorCode>> = {
  400: 'bad_request',
  404: 'session_not_found',
  405: 'bad_request',
  406: 'bad_request',
  409: 'bad_request',
  415: 'unsupported_media_type',
};

/**
 * A refusal the SDK's transport wrote (an empty batch, a message of no JSON-RPC shape, an Accept
 * header without both types) with the hub's code in `data`, as the hub's own refusals carry it
 * (docs/errors.md: "also when /mcp refuses the HTTP request itself"). The body unchanged when it
 * is not a JSON-RPC error, already has a code, or has no code that fits.
 */
export function withHubErrorCode(body: Buffer, status: number): Buffer {
  let message: unknown;
  try {
    message = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  if (!isRecord(message) || !isRecord(message['error'])) return body;
  const error = message['error'];
  const data = error['data'];
  if (data !== undefined && (!isRecord(data) || data['code'] !== undefined)) return body;
  const code = typeof error['code'] === 'number' ? (BY_RPC_CODE[error['code']] ?? BY_STATUS[status]) : undefined;
  if (code === undefined) return body;
  return Buffer.from(JSON.stringify({ ...message, error: { ...error, data: { ...(isRecord(data) ? data : {}), code } } }));
}
