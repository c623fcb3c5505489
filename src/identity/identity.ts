/** Who is calling: resolved from a hub API token (HTTP) or the local user (stdio). */
export interface Identity {
  tenant: string;
  user: string;
  scopes: readonly string[];
  /** The API token's id when the call came over HTTP. */
  tokenId?: string;
}

/**
 * What a hub token may do over HTTP: `mcp` (the /mcp endpoint), `metrics` (/metrics and /readyz
 * details), `admin` (admin actions; it covers `metrics` too but not `mcp`, so a monitoring or
 * admin token cannot act as a user's tools). The stdio face's local identity is not checked.
 */
export const HUB_SCOPES = ['mcp', 'metrics', 'admin'] as const;
export type HubScope = (typeof HUB_SCOPES)[number];

export const DEFAULT_TENANT = 'default';

export function identityKey(id: Identity): string {
  return `${id.tenant}/${id.user}`;
}

export function localIdentity(user = 'local', tenant = DEFAULT_TENANT): Identity {
  return { tenant, user, scopes: ['admin'] };
}
