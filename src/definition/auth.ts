import { z } from 'zod';

// RFC 9110 §5.1: a field name is a token.
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "a header name (letters, digits and !#$%&'*+.^_`|~-)");

/**
 * How an API that is not reached through OAuth is authorized: one static key sent in a header (an
 * API key, a service token), or nothing at all. The definition says how; the key is config's.
 */
export const staticAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('apiKey'), header: headerName.default('authorization'), prefix: z.string().optional() }),
  z.strictObject({ type: z.literal('none') }),
]);
export type StaticAuth = z.infer<typeof staticAuthSchema>;

/** The config's side of it: the key itself (usually `${ENV}`), which never enters a definition. */
export const staticAuthConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('apiKey'), header: headerName.default('authorization'), prefix: z.string().optional(), value: z.string().min(1) }),
  z.strictObject({ type: z.literal('none') }),
]);
export type StaticAuthConfig = z.infer<typeof staticAuthConfigSchema>;

/** Exactly one of `oauth` and `auth`: an integration is linked per user, or called with one key. */
export function oneAuthMode(v: { oauth?: unknown; auth?: unknown }, ctx: z.RefinementCtx): void {
  if ((v.oauth === undefined) === (v.auth === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'give either "oauth" (each user links an account) or "auth" (one API key, or none)' });
  }
}
