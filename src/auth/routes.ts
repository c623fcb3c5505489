/** The one scope of the hub's resource: use the tools of /mcp as the signed-in hub user. */
export const MCP_SCOPE = 'mcp';

/**
 * Endpoint paths of the hub's authorization server. `/authorize`, `/token` and `/register` are the
 * 2025-03-26 MCP spec's default endpoints, which clients that skip metadata discovery (older
 * mcp-remote) try on the hub's origin.
 */
export const AS_ROUTES = {
  authorization: '/authorize',
  token: '/token',
  registration: '/register',
  revocation: '/revoke',
  jwks: '/jwks',
} as const;

/** Where the library sends the browser to sign in and consent (src/auth/interaction.ts). */
export const SIGN_IN_PATH = '/sign-in';

/** RFC 8414 and OpenID discovery, both served by the library from one configuration. */
export const DISCOVERY_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'] as const;

/**
 * The path the hub is reached under, from its public URL (`https://proxy.example/hub` → `/hub`,
 * '' at the root). A reverse proxy that serves the hub under a path strips it (nginx's
 * `location /hub/ { proxy_pass http://hub/; }`), so the hub's routes never see it, but every URL
 * handed to a browser or a client, and every cookie's Path, must carry it.
 */
export function publicPathOf(publicUrl: string): string {
  return new URL(publicUrl).pathname.replace(/\/$/, '');
}
