import { OAuthError, OAuthErrorCode, bearerAuthChallengeResponse, verifyBearerToken } from '@modelcontextprotocol/server';
import type { AuthInfo, OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { HubScope } from '../identity/identity.js';
import { mayBeToken, type ApiTokens } from '../identity/tokens.js';
import type { AccessTokens } from '../auth/access.js';
import { describeError } from '../errors.js';
import { writeRefusal } from './json.js';
import { closeIfBodyUnread } from './limits.js';
import type { RefusalLog } from './refusal-log.js';
import { loopbackAliases } from './security.js';

export interface ResourceUrls {
  /** The protected resource: `<publicUrl>/mcp`. */
  resource: string;
  /** Where its RFC 9728 metadata lives. */
  metadata: string;
}

export function resourceUrls(publicUrl: string): ResourceUrls {
  const base = publicUrl.replace(/\/$/, '');
  return { resource: `${base}/mcp`, metadata: `${base}/.well-known/oauth-protected-resource/mcp` };
}

/**
 * The resource as the request reached it: on a loopback hub reached as `localhost` (or `[::1]`)
 * rather than 127.0.0.1, the URLs under that name, since a client checks that the metadata names
 * the URL it connected to (RFC 9728 §3.3). The Host was checked against the allowed ones before.
 */
export function resourceUrlsFor(urls: ResourceUrls, host: string | undefined): ResourceUrls {
  if (host === undefined) return urls;
  const asked = `http://${host.toLowerCase()}/mcp`;
  return asked !== urls.resource && loopbackAliases(urls.resource).includes(asked) ? resourceUrls(`http://${host.toLowerCase()}`) : urls;
}

/** Resolves hub API tokens (and, with `oauth`, the hub's own OAuth access tokens) to identities for the SDK's bearer middleware. */
export function hubTokenVerifier(tokens: ApiTokens, oauth?: AccessTokens): OAuthTokenVerifier {
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      if (oauth && !mayBeToken(token)) return verifyOAuth(oauth, token);
      // The one await of the check: the SQLite implementation answers from a prepared statement.
      const identity = await tokens.check(token);
      if (identity === 'expired') throw new OAuthError(OAuthErrorCode.InvalidToken, 'the token has expired; create a new one');
      if (!identity) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown or revoked token');
      // Expiry is checked above on the hub's clock; the SDK requires expiresAt, so it is set a little ahead on each request.
      return {
        token,
        clientId: identity.tokenId ?? identity.user,
        scopes: [...identity.scopes],
        // The SDK checks expiresAt against the real time, not the hub's clock.
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
        extra: { identity },
      };
    },
  };
}

async function verifyOAuth(oauth: AccessTokens, token: string): Promise<AuthInfo> {
  const r = await oauth.check(token);
  if (r === 'expired') throw new OAuthError(OAuthErrorCode.InvalidToken, 'the access token has expired; refresh it or sign in again');
  if (r === 'wrong_resource') throw new OAuthError(OAuthErrorCode.InvalidToken, 'the access token was issued for another resource, not this /mcp');
  if (r === undefined) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown or revoked token');
  return { token, clientId: r.clientId, scopes: [...r.identity.scopes], expiresAt: r.expiresAt, extra: { identity: r.identity, oauth: true } };
}

/**
 * How to get in with a hub token, appended to every invalid_token answer of the routes that take
 * only hub tokens (and of /mcp, after the OAuth sentence, see OAUTH_HINT). Without it a client that
 * cannot do OAuth shows a bare 401 and the user never learns the hub wants one of its own tokens.
 * RFC 6750 §3 limits error_description to printable ASCII without `"` or `\`, so the text avoids both.
 */
export const TOKEN_HINT = tokenHint('switchboard tokens create --user NAME');

/** The hint with the command that creates the token a route takes (`--scopes metrics` at /metrics: a plain token holds `mcp` only). */
function tokenHint(create: string): string {
  return `This hub takes its own API tokens: create one with \`${create}\` and send it as the header Authorization: Bearer TOKEN (mcp-remote: --header Authorization:Bearer TOKEN; MCP Inspector: --header Authorization: Bearer TOKEN).`;
}

/** The hint at /mcp, where the hub is also an OAuth authorization server. */
export const OAUTH_HINT = `Sign in with OAuth: this hub is its own authorization server (follow resource_metadata), or use a hub token. ${TOKEN_HINT}`;

/** Machine-readable form of the hint, in the JSON body next to the OAuth error fields. */
const HOW_TO = {
  create: 'switchboard tokens create --user NAME',
  header: 'Authorization: Bearer TOKEN',
  mcp_remote: 'npx mcp-remote URL --header "Authorization: Bearer ${TOKEN}"',
};

/**
 * Bearer authentication with the SDK's verification and challenge (status codes,
 * `WWW-Authenticate` with `resource_metadata` per RFC 9728), and a description that says how to
 * obtain and pass a hub token. With `anyOf`, the token must hold one of those scopes, else 403
 * `insufficient_scope` naming the first of them (RFC 6750 §3.1); the SDK's own `requiredScopes`
 * wants all of them, which cannot say "metrics or admin".
 */
export function bearerAuth(
  tokens: ApiTokens,
  urls: ResourceUrls,
  anyOf: readonly HubScope[] = [],
  oauth?: AccessTokens,
  refusals?: RefusalLog,
): RequestHandler {
  const options = { verifier: hubTokenVerifier(tokens, oauth), resourceMetadataUrl: urls.metadata };
  // A route that wants another scope than mcp says how to make a token that holds it.
  const create = anyOf.length > 0 && !anyOf.includes('mcp') ? `${HOW_TO.create} --scopes ${anyOf[0]}` : HOW_TO.create;
  const hint = oauth ? OAUTH_HINT : tokenHint(create);
  const howToHere = { ...HOW_TO, create };
  const requiredScopes = anyOf.slice(0, 1);
  // Every answer that points a client at the metadata (a 401, a 403 asking for another scope: a
  // step-up sign-in) names it under the name the client reached the hub by (RFC 9728 §3.3).
  const pointers = (req: Request) => {
    const metadata = resourceUrlsFor(urls, req.headers.host).metadata;
    return { options: { resourceMetadataUrl: metadata, requiredScopes }, howTo: oauth ? { ...howToHere, oauth: metadata } : howToHere };
  };
  const lacking = `This token lacks the ${anyOf.join(' or ')} scope; create one with \`switchboard tokens create --user NAME --scopes ${anyOf[0] ?? 'mcp'}\`.`;
  // An OAuth access token's scope is what its client asked for: only a new sign-in changes it.
  const lackingGrant = `This access token lacks the ${anyOf.join(' or ')} scope: sign in again asking for scope=${anyOf[0] ?? 'mcp'}.`;
  return (req, res, next) => {
    verifyBearerToken(singleSpaced(req.headers.authorization), options).then(
      (auth) => {
        if (anyOf.length > 0 && !holdsAny(auth.scopes, anyOf)) {
          refusals?.('forbidden', { method: req.method, path: req.path, client: auth.clientId, lacking: anyOf.join(' or ') });
          const why = auth.extra?.['oauth'] === true ? lackingGrant : lacking;
          const { options: here, howTo } = pointers(req);
          refuse(req, res, new OAuthError(OAuthErrorCode.InsufficientScope, why), here, hint, howTo);
          return;
        }
        req.auth = auth;
        next();
      },
      (err: unknown) => {
        if (req.headers.authorization !== undefined && !(err instanceof OAuthError)) return void unavailable(req, res, err, refusals);
        const told = unfilled(req.headers.authorization) ?? err;
        // Why, never the token: none sent, or the verifier's words ("unknown or revoked token", "expired").
        const why = req.headers.authorization === undefined ? 'no token' : told instanceof OAuthError ? told.message : 'the token could not be checked';
        refusals?.('unauthorized', { method: req.method, path: req.path, why });
        const { options: here, howTo } = pointers(req);
        refuse(req, res, told, here, hint, howTo);
      },
    );
  };
}

/**
 * RFC 6750 §2.1 allows one or more spaces after `Bearer` (`1*SP`); the SDK's parser splits on one.
 * The common single-spaced header is returned as it is, without a copy.
 */
function singleSpaced(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.charCodeAt(6) !== 0x20 || authorization.charCodeAt(7) !== 0x20) return authorization;
  return authorization.replace(/^(\S+) +/, '$1 ');
}

/** The words the README's examples hold the token's place with (`Authorization:Bearer TOKEN`): no token is one. */
const README_PLACEHOLDER = /^bearer +(TOKEN|<token>|<TOKEN>)\s*$/i;

/** A variable's name where the token should be: `$TOKEN`, `${TOKEN}` (nothing a token ever looks like). */
const PLACEHOLDER = /^bearer +(\$\{?[A-Za-z_][A-Za-z0-9_]{0,63}\}?)\s*$/i;

/**
 * Why a header copied from the README's commands carries no token, when it plainly does not: the
 * shell variable was unset where the command ran (`Bearer ${TOKEN}` became `Bearer`), or the line
 * went into a JSON config that expands nothing (`Bearer ${TOKEN}` as it is). The SDK's words for
 * these, "Invalid Authorization header format" and "unknown or revoked token", send the user to
 * check a header that looks right or a token they never sent.
 */
function unfilled(authorization: string | undefined): OAuthError | undefined {
  if (authorization === undefined) return undefined;
  if (/^bearer\s*$/i.test(authorization))
    return new OAuthError(
      OAuthErrorCode.InvalidToken,
      'the Authorization header has no token after Bearer: a shell variable such as ${TOKEN} that is not set where the command ran expands to nothing',
    );
  const word = README_PLACEHOLDER.exec(authorization)?.[1];
  if (word !== undefined)
    return new OAuthError(OAuthErrorCode.InvalidToken, `the token sent is the placeholder ${word} from the example: put a hub token in its place`);
  const name = PLACEHOLDER.exec(authorization)?.[1];
  if (name === undefined) return undefined;
  // The name is echoed: the pattern above lets only a variable's name through, nothing a header could be broken with.
  return new OAuthError(
    OAuthErrorCode.InvalidToken,
    `the token sent is the text ${name}: the variable was not expanded (a JSON config such as claude_desktop_config.json expands none, mcp-remote only from the env of its entry); put the token itself there`,
  );
}

/** Whether the header offers a bearer token at all (`Bearer <something>`, the scheme in any case). */
function carriesBearerToken(authorization: string | undefined): boolean {
  return authorization !== undefined && /^bearer +\S/i.test(authorization);
}

/** A loop rather than `some` with a closure: this runs on every /mcp request. */
function holdsAny(scopes: readonly string[], anyOf: readonly HubScope[]): boolean {
  for (let i = 0; i < anyOf.length; i++) if (scopes.includes(anyOf[i]!)) return true;
  return false;
}

function refuse(
  req: Request,
  res: Response,
  err: unknown,
  options: { resourceMetadataUrl: string; requiredScopes?: string[] },
  hint: string,
  howTo: Record<string, string>,
): void {
  const error =
    err instanceof OAuthError && err.code === OAuthErrorCode.InvalidToken
      ? new OAuthError(OAuthErrorCode.InvalidToken, `${withStop(err.message)} ${hint}`)
      : err;
  closeIfBodyUnread(req, res);
  const response = bearerAuthChallengeResponse(error, options);
  // A request with no credentials at all, or only in another scheme than Bearer (Basic, a bare
  // `Bearer`), gets a challenge without an error code (RFC 6750 §3.1: "lacks any authentication
  // information … or attempted using an unsupported authentication method"), with the scope to
  // ask for (the MCP authorization spec's scope selection).
  const bare = !carriesBearerToken(req.headers.authorization) && error instanceof OAuthError && error.code === OAuthErrorCode.InvalidToken;
  const challenge = bare
    ? `Bearer resource_metadata="${options.resourceMetadataUrl}", scope="${options.requiredScopes?.[0] ?? 'mcp'}"`
    : response.headers.get('WWW-Authenticate');
  if (challenge !== null) res.set('WWW-Authenticate', challenge);
  const body = error instanceof OAuthError ? error.toResponseObject() : new OAuthError(OAuthErrorCode.ServerError, 'Internal Server Error').toResponseObject();
  res.status(response.status).json(error instanceof OAuthError && error.code === OAuthErrorCode.InvalidToken ? { ...body, how_to_authenticate: howTo } : body);
}

/**
 * The token could not be looked up (the store did not answer): not the token's fault, so not 401,
 * which tells a client to sign in anew, nor a bare 500 without a code: 503 with Retry-After, which
 * a client and a load balancer take as "try again shortly".
 */
function unavailable(req: Request, res: Response, err: unknown, refusals: RefusalLog | undefined): void {
  refusals?.('auth_unavailable', { method: req.method, path: req.path, why: describeError(err) });
  closeIfBodyUnread(req, res);
  res.setHeader('Retry-After', '5');
  writeRefusal(req, res, 'auth_unavailable', "the token could not be checked: the hub's store did not answer; try again shortly");
}

function withStop(s: string): string {
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** Where the resource metadata is served: the root and the path-suffixed location. */
export const RESOURCE_METADATA_PATHS = ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'];

/**
 * Those, and for a hub served under a path (`server.publicUrl` `https://proxy.example/hub/`) the
 * RFC 9728 §3.1 location of its resource, `/.well-known/oauth-protected-resource/hub/mcp`: a proxy
 * that passes the host's `/.well-known/` on to the hub unstripped reaches it there.
 */
export function resourceMetadataPaths(urls: ResourceUrls): string[] {
  const resourcePath = new URL(urls.resource).pathname;
  return resourcePath === '/mcp' ? [...RESOURCE_METADATA_PATHS] : [...RESOURCE_METADATA_PATHS, `/.well-known/oauth-protected-resource${resourcePath}`];
}

/**
 * RFC 9728 protected-resource metadata, at both the root and the path-suffixed location the MCP
 * authorization spec tells clients to try. It names the hub's own authorization server when one
 * is mounted (src/auth/); hub tokens from `switchboard tokens create` work either way.
 */
export function mountResourceMetadata(app: Express, urls: ResourceUrls, issuer?: string): void {
  const body = {
    resource: urls.resource,
    authorization_servers: issuer === undefined ? [] : [issuer],
    ...(issuer === undefined ? {} : { scopes_supported: ['mcp'] }),
    bearer_methods_supported: ['header'],
    resource_name: 'Switchboard MCP hub',
  };
  for (const path of resourceMetadataPaths(urls)) {
    app.get(path, (req, res) => {
      // Varies with the name the hub was reached by (a loopback alias), so caches keep one per Host.
      res
        .set({ 'Cache-Control': 'public, max-age=300', Vary: req.headers.origin === undefined ? 'Host' : 'Host, Origin' })
        .json({ ...body, resource: resourceUrlsFor(urls, req.headers.host).resource });
    });
  }
  if (issuer !== undefined) return;
  // With no authorization server advertised, OAuth clients (mcp-remote 0.15, the MCP Inspector)
  // fall back to the hub's origin and try Dynamic Client Registration at /register (the 2025-03-26
  // default endpoints). mcp-remote prints this body in its error, so it says what to do instead.
  app.post('/register', (_req, res) => {
    res.status(404).json({
      error: 'registration_not_supported',
      error_description: `This hub is not an OAuth authorization server. ${TOKEN_HINT}`,
      how_to_authenticate: HOW_TO,
    });
  });
}

/**
 * Whether a request carries a valid hub token holding one of `anyOf`, for routes that answer
 * everyone but tell more to a token holder (/readyz). Never refuses: a bad token just sees less.
 */
export async function holdsScope(tokens: ApiTokens, authorization: string | undefined, anyOf: readonly HubScope[]): Promise<boolean> {
  if (authorization === undefined || !/^bearer /i.test(authorization)) return false;
  const identity = await tokens.verify(authorization.slice(7).trim());
  return identity !== undefined && holdsAny(identity.scopes, anyOf);
}
