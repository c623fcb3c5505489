import { requireBearerAuth } from '@modelcontextprotocol/express';
import { OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server';
import type { AuthInfo, OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { Express, RequestHandler } from 'express';
import type { ApiTokens } from '../identity/tokens.js';

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

/** Resolves hub API tokens to identities for the SDK's bearer middleware. */
export function hubTokenVerifier(tokens: ApiTokens): OAuthTokenVerifier {
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const identity = tokens.verify(token);
      if (!identity) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown or revoked token');
      // Hub tokens do not expire; the SDK requires expiresAt, so it is set a little ahead on each request.
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

export function bearerAuth(tokens: ApiTokens, urls: ResourceUrls): RequestHandler {
  return requireBearerAuth({ verifier: hubTokenVerifier(tokens), resourceMetadataUrl: urls.metadata });
}

/**
 * RFC 9728 protected-resource metadata, at both the root and the path-suffixed location the MCP
 * authorization spec tells clients to try. Hub tokens are issued by `switchboard tokens create`,
 * so no authorization server is advertised yet.
 */
export function mountResourceMetadata(app: Express, urls: ResourceUrls): void {
  const body = {
    resource: urls.resource,
    authorization_servers: [] as string[],
    bearer_methods_supported: ['header'],
    resource_name: 'Switchboard MCP hub',
  };
  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    app.get(path, (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').json(body);
    });
  }
}
