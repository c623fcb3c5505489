import type { RequestHandler } from 'express';
import { closeIfBodyUnread } from './limits.js';

/**
 * RFC 6749 §5.2 error_description: printable ASCII without `"` or `\`. It says why the header is
 * there at all, since the client that sent it is not the person who can fix it.
 */
export const BEARER_AT_TOKEN_ENDPOINT =
  'this token request carries an Authorization: Bearer header, which the token endpoint does not take (it is for /mcp). ' +
  'A client that sends its own header with every request (mcp-remote --header) started this sign-in because /mcp refused the token in that header ' +
  '(unknown, revoked, expired, or a placeholder such as TOKEN left in the config): put a valid hub token there, or remove --header to sign in with OAuth.';

/**
 * `POST /token` with `Authorization: Bearer …`. mcp-remote sends its `--header` to every request:
 * when /mcp refuses that token it starts an OAuth sign-in, and after the user has signed in its
 * code exchange carries the header too, which the authorization server refused as "invalid
 * authorization header value format", the last words mcp-remote prints. The refusal is the same
 * (400 invalid_request); the description says what to change.
 */
export const refuseBearerAtTokenEndpoint: RequestHandler = (req, res, next) => {
  if (!/^bearer(\s|$)/i.test(req.headers.authorization ?? '')) return void next();
  closeIfBodyUnread(req, res);
  res.status(400).set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({ error: 'invalid_request', error_description: BEARER_AT_TOKEN_ENDPOINT });
};
