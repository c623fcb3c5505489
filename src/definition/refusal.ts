import { z } from 'zod';
import { jsonAt, jsonPathSchema } from './selector.js';

/**
 * A provider that refuses a request with a 2xx answer and a flag in its JSON body, as Slack's Web
 * API does (`{"ok": false, "error": "channel_not_found"}` with HTTP 200): `okAt` names the flag,
 * `messageAt` the provider's reason. Such an answer is a failure like a 4xx: an `isError` result,
 * and a queued write fails (it is not sent again, as the same request would be refused again).
 *
 * `unauthorized` lists the reasons that say the access token is dead, as a 401 says it (Slack:
 * `invalid_auth`, `token_revoked`, `token_expired`, `account_inactive`, `not_authed`): the token is
 * refreshed once if it can be, and then the account must be linked again. Slack answers a dead
 * token with HTTP 200 and no 401 ever comes, so without the list such a connection stayed
 * `active` and every call failed as a final `downstream_error`.
 */
export const refusalSchema = z
  .strictObject({
    okAt: jsonPathSchema,
    messageAt: jsonPathSchema.optional(),
    unauthorized: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine((r) => r.unauthorized === undefined || r.messageAt !== undefined, {
    path: ['unauthorized'],
    message: 'is matched against the reason at "messageAt", so "messageAt" must be given too',
  });
export type Refusal = z.infer<typeof refusalSchema>;

/** An answer's body as parsed JSON when its Content-Type says JSON and it parses; undefined otherwise. */
export function jsonAnswer(contentType: string | null, text: string): unknown {
  if (!(contentType ?? '').includes('json') || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The provider's reason when `body` (parsed JSON) says the request was refused; undefined when it was not. */
export function refusedBecause(refusal: Refusal | undefined, body: unknown): string | undefined {
  if (refusal === undefined || jsonAt(body, refusal.okAt) !== false) return undefined;
  const why = refusal.messageAt === undefined ? undefined : jsonAt(body, refusal.messageAt);
  return typeof why === 'string' && why !== '' ? why : `${refusal.okAt.join('.')} is false`;
}

/** Whether a refusal's reason is one the integration lists as the access token being refused (`unauthorized`). */
export function refusesCredentials(refusal: Refusal | undefined, reason: string | undefined): boolean {
  return reason !== undefined && refusal?.unauthorized?.includes(reason) === true;
}
