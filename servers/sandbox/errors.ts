import type { ErrorRequestHandler } from 'express';

/** A request the client got wrong, as Express's router and body parsers report it. */
export interface ClientFault {
  status: number;
  kind: 'path' | 'charset' | 'encoding' | 'json' | 'too_large' | 'body';
  message: string;
}

/**
 * The client's fault in an error from the router (a path parameter that is not valid
 * percent-encoding, RFC 3986 §2.1, is a URIError with status 400) or a body parser (http-errors
 * with a `type`); undefined for anything else, which is the sandbox's own fault.
 */
export function clientFault(err: unknown): ClientFault | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const { status, type } = err as { status?: unknown; type?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (err instanceof URIError) return { status: 400, kind: 'path', message: 'a path segment is not valid percent-encoding' };
  // RFC 9110 §15.5.16: a body in a charset or content-coding the server does not read is 415.
  if (type === 'charset.unsupported') return { status: 415, kind: 'charset', message: 'the body must be UTF-8' };
  if (type === 'encoding.unsupported')
    return { status: 415, kind: 'encoding', message: 'the content-encoding is not supported (identity, gzip, deflate or br)' };
  if (type === 'entity.parse.failed') return { status: 400, kind: 'json', message: 'the body is not valid JSON' };
  if (type === 'entity.too.large') return { status: 413, kind: 'too_large', message: 'the body is too large' };
  if (typeof type === 'string' || (err as { expose?: unknown }).expose === true)
    return { status, kind: 'body', message: 'the body could not be read (a bad content-encoding or an aborted request)' };
  return undefined;
}

/** Where the sandbox reports its own failures: a pino logger fits. */
export interface SandboxLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * The last handler of the sandbox: an error no route answered is the sandbox's own fault. It is
 * logged with the route and the error only (headers, query and body may hold credentials, codes
 * and tokens) and answered 500 in RFC 6749's form, the shape of the provider's OAuth endpoints.
 */
export function unexpectedErrors(log: () => SandboxLog): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log().error(
      { method: req.method, path: `${req.baseUrl}${req.path}`, err: { name: e.name, message: e.message, stack: e.stack } },
      'sandbox: unexpected error',
    );
    // A stream already under way cannot change its status: end it, so the client sees it cut.
    if (res.headersSent) return void res.destroy();
    res.set('Cache-Control', 'no-store').status(500).json({ error: 'server_error', error_description: 'internal error' });
  };
}
