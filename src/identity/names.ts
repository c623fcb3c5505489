import { z } from 'zod';
import { HubError } from '../errors.js';

/**
 * What a hub user or tenant name may be: 1–128 of `A-Z a-z 0-9 . _ @ -`. An email address fits;
 * a slash never does, so `tenant/user` names one identity unambiguously (src/auth/account.ts),
 * and nothing in a name can steer a terminal, a log line or a URL.
 */
export const identityNameSchema = z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, 'use 1–128 characters from A-Z a-z 0-9 . _ @ -');

/** The name as given, or `invalid_params` saying which (`user`, `tenant`) and why; the value is quoted as JSON. */
export function identityName(value: string, what: 'user' | 'tenant'): string {
  const r = identityNameSchema.safeParse(value);
  if (!r.success) throw new HubError('invalid_params', `${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}
