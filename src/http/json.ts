import type { ServerResponse } from 'node:http';

/**
 * A JSON answer on Node's own response, for the paths that answer before express (the webhook
 * route and the guards in front of it): one write, its length known.
 */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
