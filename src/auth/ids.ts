import { createHash } from 'node:crypto';

/** The vault tenant of the hub's own secrets (as src/store/hub-secrets.ts). */
export const HUB_TENANT = '_hub';

/**
 * Rows of the authorization server are keyed by a hash of the library's id: ids of codes and
 * tokens are the secrets themselves. Kept apart from adapter.ts, which loads the library: the
 * grant and invite stores use it on paths that must not (start-up, the CLI).
 */
export const hashId = (id: string): string => createHash('sha256').update(id).digest('base64url');
