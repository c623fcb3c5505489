import { z } from 'zod';
import { scalarText } from './exact-json.js';
import { jsonAt, jsonPathSchema } from './selector.js';

/**
 * Where a linked account's provider id is learned at link time, so webhooks that name the account
 * (`webhooks.accountFrom`) find their connection: a field of the token response (Slack's
 * `token:team.id`, Stripe Connect's `token:stripe_user_id`), or an identity request made with the
 * new access token (`{ request: "/me", at: "username" }`, the path relative to `apiBaseUrl`).
 */
export type AccountSource = { kind: 'token'; path: string[] } | { kind: 'request'; path: string; at: string[] };

const tokenField = z
  .string()
  .regex(/^token:/, 'write token:dotted.path (a field of the token response) or { "request": "/path", "at": "dotted.path" }')
  .transform((s, ctx): AccountSource => {
    const r = jsonPathSchema.safeParse(s.slice('token:'.length));
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: r.error.issues[0]?.message ?? 'not a dotted path' });
      return z.NEVER;
    }
    return { kind: 'token', path: r.data };
  });

const identityRequest = z
  .strictObject({
    // Relative to the API base: the access token is sent only where the tools send it.
    request: z.string().regex(/^\/(?!\/)[^\s?#]*(\?[^\s#]*)?$/, 'a path on the API base, starting with one /'),
    at: jsonPathSchema,
  })
  .transform((r): AccountSource => ({ kind: 'request', path: r.request, at: r.at }));

export const accountSchema = z.strictObject({ from: z.union([tokenField, identityRequest]) });
export type AccountBlock = z.infer<typeof accountSchema>;

/** A value at a dotted path of JSON (parseExact keeps 64-bit ids exact): own properties only; strings and finite numbers count. */
export function valueAt(json: unknown, path: readonly string[]): string | undefined {
  const text = scalarText(jsonAt(json, path));
  return text !== undefined && text.length > 512 ? undefined : text;
}
