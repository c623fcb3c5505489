import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpError, isJsonRpcCode, jsonRpcHttpError, type HubErrorCode } from '../errors.js';
import { isMcpPath } from './mcp-route.js';

/**
 * A JSON answer on Node's own response, for the paths that answer before express (the webhook
 * route and the guards in front of it): one write, its length known.
 */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * A refusal in the shape its route speaks (docs/errors.md): a JSON-RPC error object on `/mcp`,
 * which MCP clients read, and the hub's `{ error: { code, message } }` on every other route.
 */
export function writeRefusal(req: IncomingMessage, res: ServerResponse, code: HubErrorCode, message: string): void {
  const answer = isMcpPath((req.url ?? '').split('?')[0]!) && isJsonRpcCode(code) ? jsonRpcHttpError(code, message) : httpError(code, message);
  writeJson(res, answer.status, answer.body);
}
