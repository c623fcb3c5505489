import { createProviderClient, type ProviderFetch } from '../providers/client.js';
import { oauthCredentials } from '../providers/credentials.js';
import type { TokenManager } from './token-manager.js';

export type AuthorizedFetch = ProviderFetch;

/**
 * Deprecated: the provider client (src/providers/client.ts) is the one way to call a provider.
 * Kept as a thin binding of it for callers not yet moved; remove with the last of them.
 */
export function authorizedFetch(tokens: TokenManager, connectionId: string, apiBaseUrl: string, base: typeof fetch = fetch): AuthorizedFetch {
  return createProviderClient({ fetch: base }).bind({ label: new URL(apiBaseUrl).host, apiBaseUrl, credentials: oauthCredentials(tokens, connectionId), paceKey: connectionId });
}
