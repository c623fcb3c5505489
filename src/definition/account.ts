import { z } from 'zod';
import { hostAllowed, originPlaceholder, placeholdersOf } from './api-base.js';
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

const source = z.union([tokenField, identityRequest]);

/**
 * `from`: the account id. `values`: what fills the placeholders of `apiBaseUrl` for this
 * connection (Salesforce's `token:instance_url`, Jira's `{ request: "/oauth/token/accessible-resources",
 * at: "0.id" }`), a request made against the origin of `apiBaseUrl` (it cannot be made against a
 * base not yet filled).
 */
export const accountSchema = z
  .strictObject({
    from: source.optional(),
    values: z.record(z.string().regex(/^[A-Za-z0-9_]+$/, "a value's name is letters, digits and _, as in its {name} in apiBaseUrl"), source).optional(),
  })
  .refine((a) => a.from !== undefined || a.values !== undefined, 'give "from" (the account id), "values" (for apiBaseUrl\'s placeholders), or both');
export type AccountBlock = z.infer<typeof accountSchema>;

/**
 * `apiBaseUrl`'s placeholders against `account.values`, checked where the integration is declared
 * (config or a definition): each placeholder declared, each value used, a value asked of the API
 * only where the origin is fixed, and none where nothing is linked (a key from config: there is no
 * link to learn a value at). `allowedHosts` must hold a fixed origin too.
 */
export function apiValuesRule(
  v: { apiBaseUrl: string; account?: AccountBlock | undefined; auth?: unknown; allowedHosts?: string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const names = placeholdersOf(v.apiBaseUrl);
  const values = v.account?.values ?? {};
  const origin = originPlaceholder(v.apiBaseUrl);
  if (names.length > 0 && v.auth !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['apiBaseUrl'],
      message: `an integration called with one API key ("auth") links no accounts, so {${names[0]}} could be learned from none; write the base URL whole`,
    });
    return;
  }
  for (const n of names)
    if (!Object.hasOwn(values, n))
      ctx.addIssue({
        code: 'custom',
        path: v.account === undefined ? ['account'] : ['account', 'values'],
        message: `apiBaseUrl names {${n}}: declare where it is learned, "account": { "values": { "${n}": "token:<field>" or { "request": "/path", "at": "<path>" } } }`,
      });
  for (const [n, src] of Object.entries(values)) {
    if (!names.includes(n)) ctx.addIssue({ code: 'custom', path: ['account', 'values', n], message: `apiBaseUrl has no {${n}}: remove it, or use it there` });
    else if (src.kind === 'request' && origin !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['account', 'values', n],
        message: `a request needs a fixed origin, and apiBaseUrl's origin is {${origin}}: learn ${n} from the token response ("token:<field>")`,
      });
  }
  if (v.allowedHosts !== undefined && origin === undefined && URL.canParse(v.apiBaseUrl.replace(/\{[^{}]*\}/g, 'x'))) {
    const fixed = new URL(v.apiBaseUrl.replace(/\{[^{}]*\}/g, 'x'));
    if (!hostAllowed(fixed, v.allowedHosts))
      ctx.addIssue({
        code: 'custom',
        path: ['allowedHosts'],
        message: `lists no host of apiBaseUrl (${fixed.host}), where every request of the integration goes`,
      });
  }
}

/** A value at a dotted path of JSON (parseExact keeps 64-bit ids exact): own properties only; strings and finite numbers count. */
export function valueAt(json: unknown, path: readonly string[]): string | undefined {
  const text = scalarText(jsonAt(json, path));
  return text !== undefined && text.length > 512 ? undefined : text;
}
