import {
  classifyInboundRequest,
  isJSONRPCNotification,
  isJSONRPCRequest,
  PROTOCOL_VERSION_META_KEY,
  RELATED_TASK_META_KEY,
} from '@modelcontextprotocol/server';
import { isRecord } from '../is-record.js';

export interface InboundFields {
  httpMethod: string;
  body: unknown;
  protocolVersionHeader?: string;
  mcpMethodHeader?: string;
  mcpNameHeader?: string;
}

/**
 * Versions before 2026-07-28: a header naming one of these never makes a request modern. Any
 * other value (a newer or unknown one) is left to the SDK's classifier.
 */
const LEGACY_VERSIONS: ReadonlySet<string> = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);

/**
 * Whether `/mcp` serves the request on the 2025 era (sessions), with the SDK's answer. The SDK's
 * `classifyInboundRequest` first tries the body as a JSON-RPC result and as an error response, two
 * schema parses that fail for every request a client sends; for the common case (a request or
 * notification with no envelope claim and no 2026 version header) its answer is known to be
 * `legacy` once the body is a valid request or notification, and that is decided here with the
 * SDK's own predicates. Everything else goes to the SDK's classifier.
 */
export function isLegacyInbound(fields: InboundFields): boolean {
  if (fields.httpMethod.toUpperCase() !== 'POST') return true;
  if (plainLegacyMessage(fields.body, fields.protocolVersionHeader)) return true;
  if (plainModernClaim(fields.body)) return false;
  return classifyInboundRequest(fields).kind === 'legacy';
}

/**
 * A plain request whose params carry the envelope claim: the SDK's classifier answers it `modern`
 * or with a rejection (an invalid envelope, a header that disagrees), never `legacy`, whatever the
 * headers say. `initialize` is left to it: without a valid modern claim it is a legacy handshake.
 * Those three schema parses and the envelope's were ~3 % of the hub's CPU per 2026-07-28 call.
 */
function plainModernClaim(body: unknown): boolean {
  if (!isRecord(body) || body['method'] === 'initialize' || !plainRequest(body)) return false;
  return claimsEnvelope(body['params']);
}

/** The envelope claim: the reserved protocol-version key in params._meta, valid or not (as the SDK's `hasEnvelopeClaim`). */
function claimsEnvelope(params: unknown): boolean {
  return isRecord(params) && isRecord(params['_meta']) && PROTOCOL_VERSION_META_KEY in params['_meta'];
}

function plainLegacyMessage(body: unknown, versionHeader: string | undefined): boolean {
  if (!isRecord(body) || 'result' in body || 'error' in body || typeof body['method'] !== 'string') return false;
  if (versionHeader !== undefined && !LEGACY_VERSIONS.has(versionHeader.trim())) return false;
  if (claimsEnvelope(body['params'])) return false;
  return plainRequest(body) || isJSONRPCRequest(body) || isJSONRPCNotification(body);
}

/**
 * A request every client sends, checked by hand: true only where the SDK's JSONRPCRequestSchema
 * (a strict object: `jsonrpc`, a string or integer `id`, a string `method`, `params` an object
 * whose `_meta` may carry a string or integer `progressToken`) accepts it too; anything it is not
 * sure of goes to the SDK's predicates. That schema's parse was ~2 % of the hub's CPU per call.
 */
function plainRequest(body: Record<string, unknown>): boolean {
  for (const key in body) if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return false;
  if (body['jsonrpc'] !== '2.0' || typeof body['method'] !== 'string') return false;
  const id = body['id'];
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  const params = body['params'];
  if (params === undefined) return true;
  if (!isRecord(params)) return false;
  const meta = params['_meta'];
  if (meta === undefined) return true;
  if (!isRecord(meta) || RELATED_TASK_META_KEY in meta) return false;
  const token = meta['progressToken'];
  return token === undefined || typeof token === 'string' || Number.isSafeInteger(token);
}
