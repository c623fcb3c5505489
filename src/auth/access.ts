import type Provider from 'oidc-provider';
import type { Clock } from '../clock.js';
import type { Identity } from '../identity/identity.js';
import { parseAccountId } from './account.js';
import { MCP_SCOPE } from './routes.js';

/** What an OAuth access token presented at /mcp resolves to, or why it does not. */
export type AccessCheck = { identity: Identity; clientId: string; expiresAt: number } | 'expired' | 'wrong_resource' | undefined;

export interface AccessTokens {
  check(token: string): Promise<AccessCheck>;
}

/**
 * Opaque access tokens are looked up through the library (and so the hub's store): a token of a
 * revoked grant, or one revoked by RFC 7009, is gone at once. The audience must be the hub's /mcp (by any of its names)
 * (RFC 8707: a token for another resource is refused, RFC 9068 §4), and expiry is compared on the
 * hub's clock, as for hub API tokens. The identity's token id is the grant, which a refresh keeps,
 * so a session opened with one access token goes on with its successor.
 */
export function accessTokens(
  provider: () => Promise<Provider>,
  resources: readonly string[],
  clock: Clock,
  grantStands: (grantId: string) => Promise<boolean>,
): AccessTokens {
  return {
    async check(token) {
      if (token.length > 200) return undefined;
      const p = await provider();
      const found = await p.AccessToken.find(token, { ignoreExpiration: true });
      if (found === undefined) return undefined;
      const who = parseAccountId(found.accountId);
      if (who === undefined) return undefined;
      const aud = Array.isArray(found.aud) ? found.aud : found.aud === undefined ? [] : [found.aud];
      if (!aud.some((a) => resources.includes(a))) return 'wrong_resource';
      // Its grant must still stand, as the library's own resource endpoints require: a refresh that
      // raced its own reuse on another replica may have saved its new token after reuse detection
      // deleted the grant's rows, and that token must die with the grant (RFC 9700 §4.14.2).
      if (found.grantId === undefined || (await p.Grant.find(found.grantId)) === undefined) return undefined;
      if (found.exp === undefined || found.exp * 1000 <= clock.now()) return 'expired';
      // And the hub token the user signed in with must still stand: an expired one ends the
      // grant as a revoked one does (grants.ts `signInStands`), checked here at use.
      if (!(await grantStands(found.grantId))) return undefined;
      // The scope the token carries, not the resource it names: a client that asked for `openid`
      // alone was told on the consent page it would learn the user's name, and its token (scope
      // "") must not use tools; /mcp answers it 403 insufficient_scope.
      const scopes = (found.scope ?? '').split(' ').includes(MCP_SCOPE) ? [MCP_SCOPE] : [];
      return { identity: { ...who, scopes, tokenId: `grant:${found.grantId}` }, clientId: found.clientId, expiresAt: found.exp };
    },
  };
}
