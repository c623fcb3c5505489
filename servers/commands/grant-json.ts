import type { GrantView, SignedInWith } from '../../src/auth/grants.js';

/** A grant as `--json` prints it: every key (null when unset), its state, and `kind` to tell it from a hub token. */
export interface GrantJson {
  kind: 'oauth';
  grantId: string;
  tenant: string;
  user: string;
  clientId: string;
  clientName: string | null;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  signedInWith: SignedInWith | null;
  /** A revoked grant is deleted, so a listed one is never `revoked`. */
  state: 'active' | 'expired';
}

/** The shape `clients list --json`, `tokens list --oauth --json` and the grants of `tokens list --json` share (README, CLI). */
export function grantJson(g: GrantView, now: number): GrantJson {
  return {
    kind: 'oauth',
    grantId: g.grantId,
    tenant: g.tenant,
    user: g.user,
    clientId: g.clientId,
    clientName: g.clientName ?? null,
    scopes: g.scopes,
    createdAt: g.createdAt,
    expiresAt: g.expiresAt ?? null,
    lastUsedAt: g.lastUsedAt ?? null,
    signedInWith: g.signedInWith ?? null,
    state: g.expiresAt !== undefined && g.expiresAt <= now ? 'expired' : 'active',
  };
}
