import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import { HubError } from '../errors.js';
import { nestsTooDeep, TOO_DEEP_MESSAGE } from '../mcp/json-depth.js';

/**
 * `POST /mcp`, the hub's hottest route, served without express's router: the same middlewares
 * (body deadline, Host/Origin guard, bearer auth, the JSON-only check, the handler, the error
 * handler) called in order, on a request given express's request and response prototypes as
 * express itself does. Routing through the app's stack and body-parser's general reader cost
 * about a tenth of the hub's CPU per agent call (`npm run bench:agents -- --hub-cpu-prof DIR`).
 * Every other method and path, and a POST with a query string, still goes through express.
 */
export function isMcpPost(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url === '/mcp';
}

/**
 * Whether a path is the one express routes to `/mcp`: its router ignores case and a trailing
 * slash, so `/MCP` and `/mcp/` are served as MCP too and must be refused in MCP's shape.
 */
export function isMcpPath(path: string): boolean {
  return /^\/mcp\/?$/i.test(path);
}

type Step = (req: Request, res: Response, next: (err?: unknown) => void) => void;

/** Calls `steps` in order, as express's router would for one route: an error (passed or thrown) goes to `onError`. */
export function routeWithoutRouter(app: Express, steps: readonly Step[], onError: ErrorRequestHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (rawReq, rawRes) => {
    const { req, res } = adopt(app, rawReq, rawRes);
    const fail = (err: unknown): void => {
      onError(err, req, res, () => {});
    };
    const run = (i: number): void => {
      const step = steps[i];
      if (step === undefined) return;
      try {
        step(req, res, (err?: unknown) => (err === undefined ? run(i + 1) : fail(err)));
      } catch (err) {
        fail(err);
      }
    };
    run(0);
  };
}

/** What `app.handle` does before routing: the circular references, the prototypes and `res.locals`. */
function adopt(app: Express, req: IncomingMessage, res: ServerResponse): { req: Request; res: Response } {
  const r = req as Request;
  const s = res as Response;
  r.res = s;
  s.req = r;
  Object.setPrototypeOf(req, app.request);
  Object.setPrototypeOf(res, app.response);
  if (!s.locals) s.locals = Object.create(null);
  return { req: r, res: s };
}

/**
 * Decoding would turn bytes that are not UTF-8 into U+FFFD and pass the call on with its text
 * changed; JSON text exchanged between systems must be UTF-8 (RFC 8259 §8.1).
 */
export const NOT_UTF8_MESSAGE = 'Parse error: the body is not valid UTF-8';

/** body-parser's strict mode: a JSON body is an object or an array (after JSON's whitespace: space, tab, LF, CR). */
function objectOrArray(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

/**
 * `express.json({ limit, type: () => true })` for the plain case every MCP client sends: a
 * Content-Length within `limit`, no Content-Encoding, UTF-8. Anything else (chunked, compressed,
 * another charset, an empty or oversized body) goes to `general`, body-parser itself, so its
 * answers stay what they were. The errors it raises are body-parser's (`type`, `status`, `body`),
 * for the app's error handler to map as before.
 */
export function plainJsonBody(limit: number, general: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const h = req.headers;
    const length = h['content-length'];
    const declared = length === undefined || !/^\d+$/.test(length) ? Number.NaN : Number(length);
    const plain =
      declared > 0 &&
      declared <= limit &&
      h['transfer-encoding'] === undefined &&
      (h['content-encoding'] === undefined || h['content-encoding'].toLowerCase() === 'identity') &&
      utf8(h['content-type']);
    if (!plain) return void general(req, res, next);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    });
    req.once('error', (err) => next(Object.assign(err, { status: 400, type: 'request.aborted' })));
    req.once('end', () => {
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!isUtf8(buf)) return next(new HubError('parse_error', NOT_UTF8_MESSAGE));
      // iconv-lite, body-parser's decoder, drops a byte-order mark.
      let text = buf.toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!objectOrArray(text)) return next(parseFailure(new SyntaxError('Unexpected token in JSON: strict mode wants an object or an array'), text));
      if (nestsTooDeep(text)) return next(new HubError('bad_request', TOO_DEEP_MESSAGE));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        return next(parseFailure(err, text));
      }
      req.body = body;
      next();
    });
  };
}

/**
 * Whether a body of this Content-Type is read as UTF-8: no charset (JSON's default) or `utf-8`.
 * body-parser also decodes UTF-16 and UTF-32 bodies (and refuses other charsets with 415).
 */
export function declaresUtf8(contentType: string | undefined): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8';
}

/** `application/json` with no parameter but a UTF-8 charset (requireJsonPost has checked the type itself). */
function utf8(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const params = contentType.split(';').slice(1);
  return params.every((p) => p.split('=')[0]!.trim().toLowerCase() === 'charset') && declaresUtf8(contentType);
}

function parseFailure(err: unknown, body: string): Error {
  const e = err instanceof Error ? err : new SyntaxError(String(err));
  return Object.assign(e, { status: 400, statusCode: 400, expose: true, type: 'entity.parse.failed', body });
}
