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

/**
 * What an HTTP header value can carry (RFC 9110 §5.5: visible characters, spaces and tabs, bytes
 * past 0x7F), once the whitespace fetch trims from its ends is gone. A key with a line break or a
 * control character inside (a variable read from a file with CRLF lines, a pasted key) made every
 * call fail as "could not be reached", the provider never asked. The message never quotes the value.
 */
const headerValue = (what: string) =>
  z.string().refine((v) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v.trim()), {
    message: `${what} holds a character an HTTP header cannot carry (a line break or another control character, or one past U+00FF)`,
  });

/** The config's side of it: the key itself (usually `${ENV}`), which never enters a definition. */
export const staticAuthConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('apiKey'),
    header: headerName.default('authorization'),
    prefix: headerValue('the prefix').optional(),
    value: z.string().min(1).pipe(headerValue('the key')),
  }),
  z.strictObject({ type: z.literal('none') }),
]);
export type StaticAuthConfig = z.infer<typeof staticAuthConfigSchema>;

/**
 * Exactly one of `oauth` and `auth`: an integration is linked per user, or called with one key or none.
 * Without linking there is no linked account to route an event to (webhooks go to the connection whose
 * account they name, pollers run per connection), so `webhooks` and `poll` there would load and then
 * keep every event unroutable, and `<name>__recent_events` empty for everyone, forever: refused,
 * whether the integration is called with a key or with none.
 */
export function oneAuthMode(v: { oauth?: unknown; auth?: { type: string } | undefined; webhooks?: unknown; poll?: unknown }, ctx: z.RefinementCtx): void {
  if ((v.oauth === undefined) === (v.auth === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'give either "oauth" (each user links an account) or "auth" (one API key, or none)' });
  }
  if (v.auth === undefined || v.oauth !== undefined) return;
  const called = v.auth.type === 'apiKey' ? 'called with one API key ("auth")' : 'called with no key ("auth": { "type": "none" })';
  for (const key of ['webhooks', 'poll'] as const) {
    if (v[key] === undefined) continue;
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: `an integration ${called} has no linked accounts, and an event goes only to the user whose linked account it belongs to, so its ${key === 'webhooks' ? 'webhook events' : 'polled events'} could reach no one; give "oauth" so each user links an account, or remove "${key}"`,
    });
  }
}
