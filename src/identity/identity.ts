/** Who is calling: resolved from a hub API token (HTTP) or the local user (stdio). */
export interface Identity {
  tenant: string;
  user: string;
  scopes: readonly string[];
  /** The API token's id when the call came over HTTP. */
  tokenId?: string;
}

export const DEFAULT_TENANT = 'default';

export function identityKey(id: Identity): string {
  return `${id.tenant}/${id.user}`;
}

export function localIdentity(user = 'local', tenant = DEFAULT_TENANT): Identity {
  return { tenant, user, scopes: ['admin'] };
}
