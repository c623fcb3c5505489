import type { Request, Response } from 'express';

/** RFC 6749 §5.2 (token), RFC 7009 §2.2.1 (revocation) error codes. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'unsupported_token_type';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** Set when the client authenticated with HTTP Basic and failed (RFC 6749 §5.2). */
    readonly basicChallenge = false,
  ) {
    super(description);
    this.name = 'OAuthError';
  }

  get status(): number {
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

/** RFC 6749 §5.1: token responses, and errors alike, must not be cached. */
export function noStore(res: Response): Response {
  return res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

export function sendOAuthError(res: Response, err: OAuthError, realm: string): void {
  if (err.basicChallenge) res.set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
  noStore(res).status(err.status).json({ error: err.error, error_description: err.description });
}

/** Form parameters of one request, with RFC 6749's rules for absent and repeated ones. */
export interface Form {
  /** The single value of a parameter, undefined when absent or empty. */
  get(name: string): string | undefined;
  /** The value, or invalid_request naming the missing parameter. */
  require(name: string): string;
}

/**
 * Reads an application/x-www-form-urlencoded body (captured as text so repeats stay visible).
 * RFC 6749 §3.2: a parameter without a value counts as omitted, and none may appear twice.
 */
export function readForm(req: Request): Form {
  if (!req.is('application/x-www-form-urlencoded') || typeof req.body !== 'string') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  return formOf(new URLSearchParams(req.body));
}

export function formOf(params: URLSearchParams): Form {
  const get = (name: string): string | undefined => {
    const all = params.getAll(name);
    if (all.length > 1) throw new OAuthError('invalid_request', `parameter ${name} is repeated`);
    return all[0] === '' ? undefined : all[0];
  };
  return {
    get,
    require(name) {
      const value = get(name);
      if (value === undefined) throw new OAuthError('invalid_request', `parameter ${name} is required`);
      return value;
    },
  };
}

/** The query string of the original URL, independent of the host app's query parser setting. */
export function queryOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : req.originalUrl.slice(at + 1));
}
