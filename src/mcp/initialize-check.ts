import { z } from 'zod';
import type { JsonRpcErrorCode } from '../errors.js';
import { isRecord } from '../is-record.js';
import { describeIssues } from './hub-server.js';

/** What an initialize request must carry (MCP 2025-06-18 and 2025-11-25 alike); more is allowed. */
const Capability = z.record(z.string(), z.unknown());
const InitializeParams = z.looseObject({
  protocolVersion: z.string(),
  // Each capability the spec defines is an object (empty when it has no options), as the SDK checks.
  capabilities: z.looseObject({
    experimental: z.record(z.string(), Capability).optional(),
    roots: z.looseObject({ listChanged: z.boolean().optional() }).optional(),
    sampling: Capability.optional(),
    elicitation: Capability.optional(),
    tasks: Capability.optional(),
  }),
  clientInfo: z.looseObject({ name: z.string(), version: z.string() }),
  _meta: Capability.optional(),
});

/**
 * Why a POST without a session that means to be an `initialize` is not one the SDK accepts, or
 * undefined when it is not trying to initialize. Without this, a client whose initialize is
 * slightly off is told "no valid session ID provided", which sends its author looking in the
 * wrong place.
 */
export function initializeProblem(body: unknown): { code: JsonRpcErrorCode; message: string } | undefined {
  if (Array.isArray(body)) {
    return body.some((m) => isRecord(m) && m['method'] === 'initialize')
      ? { code: 'bad_request', message: 'initialize must be sent alone, not in a batch' }
      : undefined;
  }
  if (!isRecord(body) || body['method'] !== 'initialize') return undefined;
  const params = InitializeParams.safeParse(body['params']);
  if (!params.success)
    return {
      code: 'invalid_params',
      message: `Invalid params for initialize: ${describeIssues(params.error.issues.map((i) => ({ ...i, path: ['params', ...i.path] })))}`,
    };
  if (body['jsonrpc'] !== '2.0' || (typeof body['id'] !== 'string' && typeof body['id'] !== 'number'))
    return { code: 'bad_request', message: 'initialize is not a JSON-RPC request: it needs "jsonrpc": "2.0" and an "id"' };
  return { code: 'invalid_params', message: 'Invalid params for initialize: they do not match the MCP schema of the requested protocol version' };
}
