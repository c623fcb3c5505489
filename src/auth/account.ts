import { identityNameSchema } from '../identity/names.js';

/**
 * The library's account id for a hub identity: `tenant/user`. Both names are limited to
 * `[A-Za-z0-9._@-]` (src/identity/names.ts), so the slash cannot occur in either.
 */
export function accountId(who: { tenant: string; user: string }): string {
  return `${who.tenant}/${who.user}`;
}

export function parseAccountId(id: string): { tenant: string; user: string } | undefined {
  const [tenant, user, ...rest] = id.split('/');
  if (rest.length > 0 || !identityNameSchema.safeParse(tenant).success || !identityNameSchema.safeParse(user).success) return undefined;
  return { tenant: tenant!, user: user! };
}
