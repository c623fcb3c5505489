import { z } from 'zod';

/**
 * The library's account id for a hub identity: `tenant/user`. Both names are limited to
 * `[A-Za-z0-9._@-]` (src/identity/tokens.ts), so the slash cannot occur in either.
 */
export function accountId(who: { tenant: string; user: string }): string {
  return `${who.tenant}/${who.user}`;
}

const part = z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/);

export function parseAccountId(id: string): { tenant: string; user: string } | undefined {
  const [tenant, user, ...rest] = id.split('/');
  if (rest.length > 0 || !part.safeParse(tenant).success || !part.safeParse(user).success) return undefined;
  return { tenant: tenant!, user: user! };
}
