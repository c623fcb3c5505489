import type { ServerResponse } from 'node:http';
import type { Request } from 'express';
import type Provider from 'oidc-provider';

/**
 * Ends a sign-in step with the library's result (a login, a consent, an error for the client) and
 * sends the browser on to where the authorization request resumes, as `interactionFinished` does,
 * but by a root-relative URL: the browser stays on the host it used. The library names that URL
 * on the issuer's host (server.ts sets it on every request), while the sign-in cookies are on the
 * host the browser reached `/authorize` by: a loopback hub opened as `localhost` by a client that
 * uses the default endpoints on the origin it was given, where the issuer is 127.0.0.1. There the
 * resume found no cookie and the sign-in ended on "authorization request has expired". Behind a
 * proxy the browser's host is the issuer's, and the path keeps the public URL's prefix.
 */
export async function finishInteraction(
  provider: Provider,
  req: Request,
  res: ServerResponse,
  result: Record<string, unknown>,
  options: { mergeWithLastSubmission: boolean },
): Promise<void> {
  const resume = new URL(await provider.interactionResult(req, res, result, options));
  res.statusCode = 303;
  res.setHeader('Location', `${resume.pathname}${resume.search}`);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', '0');
  res.end();
}
