import { z } from 'zod';
import type { JsonRpcErrorCode } from '../errors.js';
import { isRecord } from '../is-record.js';
import { describeIssues } from './hub-server.js';

/** What an initialize request must carry (MCP 2025-06-18 and 2025-11-25 alike); more is allowed. */
const InitializeParams = z.looseObject({
  protocolVersion: z.string(),
  capabilities: z.record(z.string(), z.unknown()),
  clientInfo: z.looseObject({ name: z.string(), version: z.string() }),
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
  return { code: 'bad_request', message: 'initialize is not a JSON-RPC request: it needs "jsonrpc": "2.0" and an "id"' };
}
