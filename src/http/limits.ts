import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { writeRefusal } from './json.js';

/** The connection-level limits of `server.limits` (the per-identity ones live in src/mcp/identity-limits.ts). */
export interface HttpLimits {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
}

/**
 * Applies the limits Node enforces itself. No whole-request timeout: `requestTimeout` stays 0
 * because a response may be an SSE stream that lives for hours; the request's own bytes are
 * bounded instead, headers by `headersTimeout` and the body by BodyDeadlines.
 */
export function applyServerLimits(server: Server, limits: HttpLimits): void {
  server.requestTimeout = 0;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = 65_000;
  // Past this Node closes new sockets at once, so slow clients cannot use up file descriptors.
  server.maxConnections = limits.maxConnections;
}

/**
 * How often Node looks for requests past `headersTimeout`. Node's default is 30 s whatever the
 * timeout, so a 1 s timeout would take up to 31 s to act; it is only settable at createServer.
 */
export function connectionsCheckingInterval(limits: HttpLimits): number {
  return Math.max(50, Math.min(5_000, Math.floor(limits.headersTimeoutMs / 4)));
}

/** Whether the request announced a body (RFC 9112 §6.3: Content-Length or Transfer-Encoding) that has not all arrived. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * For answers given before the body is read (a missing token, a refused Host): the connection
 * closes after the answer instead of staying open while Node drains a body nobody wants, which a
 * slow sender could make last for ever.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (hasUnreadBody(req) && !res.headersSent) res.setHeader('Connection', 'close');
}

/**
 * A request body must have arrived in full within `timeoutMs` of its headers, or the request gets
 * 408 and its connection is closed (RFC 9110 §15.5.9). Responses are not bounded: an SSE stream
 * starts after its request body was read. One sweep timer serves every request and runs only while
 * bodies are in flight; per request the cost is one map entry and one listener (no closure).
 */
export class BodyDeadlines {
  /** Request → when its body must have arrived, and where to say it did not. */
  private readonly pending = new Map<IncomingMessage, { at: number; res: ServerResponse }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly forget: (this: IncomingMessage) => void;

  /** `now` is the real monotonic time: this bounds bytes on a socket, not a business rule. */
  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    const pending = this.pending;
    this.forget = function (this: IncomingMessage) {
      pending.delete(this);
    };
  }

  /** Express middleware; it reads only Node's request, so the paths served before express use it too. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (hasUnreadBody(req)) {
      this.pending.set(req, { at: this.now() + this.timeoutMs, res });
      // 'close' follows 'end' once the body is consumed (or dumped), and an aborted socket too.
      req.on('close', this.forget);
      if (this.timer === undefined) {
        this.timer = setInterval(() => this.sweep(), Math.max(25, Math.min(1_000, Math.floor(this.timeoutMs / 4))));
        this.timer.unref();
      }
    }
    next();
  };

  get inFlight(): number {
    return this.pending.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [req, { at, res }] of this.pending) {
      if (at > now && !req.complete) continue;
      this.pending.delete(req);
      // A body that arrived in full is done with, whenever its 'close' comes (after a long response, say).
      if (req.complete) continue;
      this.expire(req, res);
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private expire(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent) {
      // Answered already (without reading the body): only the connection is left to end.
      req.socket.destroy();
      return;
    }
    // With Connection: close Node ends the socket once the answer is flushed.
    res.setHeader('Connection', 'close');
    writeRefusal(req, res, 'request_timeout', `the request body did not arrive within ${this.timeoutMs} ms`);
  }
}

/**
 * A body whose declared length is over `limit` is refused at once, before a byte of it is read:
 * body-parser, given one, reads it to its end (or waits out the body deadline for a sender that
 * stalls) before saying 413. The error is body-parser's own, for the app's error handler, which
 * closes the connection rather than drain the rest.
 */
export function refuseDeclaredOversize(limit: number) {
  return (req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void => {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > limit) {
      next(Object.assign(new Error(`the request body is declared as ${length} bytes, over the limit of ${limit}`), { status: 413, type: 'entity.too.large' }));
      return;
    }
    next();
  };
}
