import { z } from 'zod';
import { isLoopbackHost } from '../http/security.js';
import { printable } from '../printable.js';

/** The loopback names the library lets a native app's http redirect use (RFC 8252 §7.3, §8.3): not all of 127/8. */
const NATIVE_LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** The grants a client may use here (provider.ts: the code flow and its refresh; the library offers no others). */
const OFFERED_GRANTS: ReadonlySet<string> = new Set(['authorization_code', 'refresh_token']);

/** The longest `client_name` shown on the sign-in and consent pages. */
export const MAX_CLIENT_NAME = 200;
/**
 * The most redirect URIs one registration may name, and the longest one. Clients register one or
 * two (a loopback port, a web callback); without a bound a registration could store thousands,
 * kept (sealed) for 30 days and read on every authorization request of that client.
 */
export const MAX_REDIRECT_URIS = 20;
export const MAX_REDIRECT_URI_LENGTH = 2048;

const registered = z.looseObject({
  redirect_uris: z.array(z.string()).optional(),
  client_name: z.string().optional(),
  application_type: z.string().optional(),
});

/** Why a registration is refused; a message that begins with `redirect_uris` is an `invalid_redirect_uri`. */
export type PolicyRefusal = { error: 'invalid_redirect_uri' | 'invalid_client_metadata'; message: string };

/**
 * What Dynamic Client Registration (RFC 7591) must not accept beyond the library's own checks,
 * applied to the metadata a client sent (`sent`) and the metadata as the library reads it
 * (`metadata`, with its defaults, changed in place):
 * - a redirect URI over plain http to anything but loopback, with a wildcard host, or with a user
 *   name or password before its host (which a reader takes for the host): the MCP
 *   authorization spec (Communication Security) allows only localhost or HTTPS, so a code never
 *   travels in clear over a network;
 * - a `client_name` that is long or carries control or bidi characters: the consent page shows it
 *   as the app's name, and "My App ‮exe.tpircs‬" reads as "My App script.exe".
 * A client that names no `application_type` and is sent back only to http loopback, or to an
 * app's own URI scheme, is a native app (RFC 8252): registered as one, so the library allows any
 * port there (§7.3). SDK clients register that way and pick a new port each run. Grants the hub
 * does not offer are dropped from one that names some it does (`narrowGrants`).
 */
export function registrationPolicy(sent: unknown, metadata: Record<string, unknown>): PolicyRefusal | undefined {
  const given = registered.safeParse(sent);
  if (!given.success) return undefined; // the library refuses metadata of the wrong shape itself
  const uris = given.data.redirect_uris ?? [];
  if (uris.length > MAX_REDIRECT_URIS)
    return { error: 'invalid_redirect_uri', message: `redirect_uris names ${uris.length} URIs; at most ${MAX_REDIRECT_URIS}` };
  const long = uris.find((u) => u.length > MAX_REDIRECT_URI_LENGTH);
  if (long !== undefined)
    return { error: 'invalid_redirect_uri', message: `redirect_uris: a URI is ${long.length} characters; at most ${MAX_REDIRECT_URI_LENGTH}` };
  const redirect = redirectUriRefusal(uris);
  if (redirect) return redirect;
  const name = given.data.client_name;
  if (name !== undefined && name.length > MAX_CLIENT_NAME)
    return { error: 'invalid_client_metadata', message: `client_name is ${name.length} characters; at most ${MAX_CLIENT_NAME}` };
  if (name !== undefined && printable(name) !== name)
    return { error: 'invalid_client_metadata', message: 'client_name must not contain control or bidirectional-override characters' };
  if (given.data.application_type === undefined && (loopbackOnly(uris) || uris.some(isAppScheme))) metadata['application_type'] = 'native';
  narrowGrants(metadata);
  return undefined;
}

/**
 * A client that names grants the hub does not offer beside some it does is registered for those
 * it does, and the answer says which (RFC 7591 §2: the server may substitute suitable values), as
 * the library reads a metadata document's. Claude registers with the JWT bearer grant (RFC 7523)
 * next to the code and refresh grants, and the library refused the whole registration; the grant
 * could never be used here anyway. One naming none the hub offers is left to the library to refuse.
 */
function narrowGrants(metadata: Record<string, unknown>): void {
  const grants = metadata['grant_types'];
  if (!Array.isArray(grants) || !grants.every((g): g is string => typeof g === 'string')) return;
  const offered = grants.filter((g) => OFFERED_GRANTS.has(g));
  if (offered.length > 0 && offered.length < grants.length) metadata['grant_types'] = offered;
}

/** The first redirect URI no client may be sent back to, from DCR or a metadata document alike. */
function redirectUriRefusal(uris: readonly string[]): PolicyRefusal | undefined {
  for (const uri of uris) {
    const u = URL.parse(uri);
    if (u === null) continue; // the library says "must only contain valid uris"
    if (u.hostname.includes('*')) return { error: 'invalid_redirect_uri', message: `redirect_uris: ${uri} has a wildcard host; register each URL as it is` };
    // `https://app.example.com@evil.example/cb` sends the code to evil.example while a user (or a
    // log reader) sees the name before the `@`; no redirect needs a user name or password.
    if (u.username !== '' || u.password !== '')
      return { error: 'invalid_redirect_uri', message: `redirect_uris: ${uri} carries a user name or password before its host; register the URL without them` };
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname))
      return {
        error: 'invalid_redirect_uri',
        message: `redirect_uris: ${uri} is plain http to another host than loopback; use https, or http://127.0.0.1 or localhost`,
      };
  }
  return undefined;
}

/**
 * Whether a redirect URI names an app's own scheme (`cursor://…`, `com.example.app:/cb`): private-use
 * URI scheme redirection, which only native apps use (RFC 8252 §7.1). Desktop clients register one
 * beside web and loopback callbacks without naming an `application_type`, and the library, taking
 * them for web clients (whose redirects are http or https), refused them. As native apps the
 * library refuses the schemes that run script or read files (javascript:, data:, file:, …).
 */
function isAppScheme(uri: string): boolean {
  const protocol = URL.parse(uri)?.protocol;
  return protocol !== undefined && protocol !== 'http:' && protocol !== 'https:';
}

/** Whether every redirect URI is plain http to a loopback name: where only a native app listens. */
function loopbackOnly(uris: readonly string[]): boolean {
  return (
    uris.length > 0 &&
    uris.every((uri) => {
      const u = URL.parse(uri);
      return u?.protocol === 'http:' && NATIVE_LOOPBACK.has(u.hostname);
    })
  );
}

/**
 * A client whose id is the URL of its metadata document (SEP-991) is sent back only where a
 * registered one may be (the redirect-URI rules of `registrationPolicy`): the library checks a
 * document's redirect URIs for form only, and one naming `http://attacker.example/cb` got its
 * codes sent there in clear. Such a document is refused (the client is invalid) before any redirect.
 * A document client sent back only to http loopback is a native app too, whatever
 * `application_type` the document names or the library
 * defaults (`web`, which it cannot tell apart from one the document left out): RFC 8252 §7.3 says
 * the server MUST allow any port there, and CLI clients publish `http://127.0.0.1/callback` with
 * no port and listen on whichever is free. Only a browser page could hold a loopback origin, and
 * PKCE still binds the code to the client that asked. One sent back to an app's own URI scheme
 * is a native app as a registration is (`isAppScheme`). Changes `metadata` in place.
 */
export function documentPolicy(metadata: Record<string, unknown>): PolicyRefusal | undefined {
  const id = metadata['client_id'];
  const uris = metadata['redirect_uris'];
  if (typeof id !== 'string' || !id.startsWith('https://') || !Array.isArray(uris)) return undefined;
  if (!uris.every((u): u is string => typeof u === 'string')) return undefined; // the library refuses it
  const refused = redirectUriRefusal(uris);
  if (refused) return refused;
  if (loopbackOnly(uris) || uris.some(isAppScheme)) metadata['application_type'] = 'native';
  return undefined;
}
