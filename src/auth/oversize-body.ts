import type Provider from 'oidc-provider';
import type { ProviderContext } from 'oidc-provider';
import { z } from 'zod';
import { OVERSIZE_BODY } from './route-guard.js';

/** The error events of the endpoints that read a body: token, registration, revocation. */
const BODY_ROUTE_ERRORS = ['grant.error', 'registration_create.error', 'revocation.error'] as const;

/** The library's refusal of a body past its cap: "failed to parse the request body", its cause as the detail. */
const tooLarge = z.object({ error_detail: z.literal('request entity too large') });

/** The library's request context, whose answer is rewritten in place (a parsed copy would not be). */
function isContext(ctx: unknown): ctx is ProviderContext {
  return typeof ctx === 'object' && ctx !== null && typeof (ctx as { set?: unknown }).set === 'function';
}

/**
 * A body sent chunked declares no length, so the route guard cannot refuse it before it is read;
 * the library counts it as it reads and, past its cap, stops and answers 400 "failed to parse the
 * request body", which tells the client its request is malformed rather than too large. The
 * library emits the error (with its cause) right after it has written that answer and before the
 * answer is sent: it becomes the guard's 413, with the same error object, and the connection
 * closes rather than drain the rest of the body, as for a declared one.
 */
export function answerOversizeAs413(provider: Provider): void {
  for (const event of BODY_ROUTE_ERRORS)
    provider.on(event, (ctx: unknown, err: unknown) => {
      if (!isContext(ctx) || !tooLarge.safeParse(err).success) return;
      ctx.status = 413;
      ctx.body = { ...OVERSIZE_BODY };
      ctx.set('Connection', 'close');
    });
}
