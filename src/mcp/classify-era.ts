import { classifyInboundRequest, isJSONRPCNotification, isJSONRPCRequest, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';

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
  return classifyInboundRequest(fields).kind === 'legacy';
}

function plainLegacyMessage(body: unknown, versionHeader: string | undefined): boolean {
  if (!isPlainObject(body) || 'result' in body || 'error' in body || typeof body['method'] !== 'string') return false;
  if (versionHeader !== undefined && !LEGACY_VERSIONS.has(versionHeader.trim())) return false;
  const params = body['params'];
  // The envelope claim is the reserved protocol-version key in params._meta, valid or not.
  if (isPlainObject(params) && isPlainObject(params['_meta']) && PROTOCOL_VERSION_META_KEY in params['_meta']) return false;
  return isJSONRPCRequest(body) || isJSONRPCNotification(body);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
