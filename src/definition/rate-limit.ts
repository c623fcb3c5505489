import { z } from 'zod';

/** A token bucket: `perSecond` tokens refill each second, up to `burst` held at once. */
export const bucketSchema = z
  .strictObject({
    perSecond: z.number().positive().max(10_000),
    burst: z.number().int().min(1).max(100_000).optional(),
  })
  // Without a burst, one second's worth may be spent at once (at least one request).
  .transform((b) => ({ perSecond: b.perSecond, burst: b.burst ?? Math.max(1, Math.ceil(b.perSecond)) }));

/**
 * Pacing of calls to a provider: per linked account and per OAuth app (providers count both,
 * e.g. GitHub's per-user and per-app limits), and optionally how many may be in flight.
 */
export const rateLimitSchema = z
  .strictObject({
    perConnection: bucketSchema.optional(),
    perApp: bucketSchema.optional(),
    /**
     * Requests of one connection in flight at once (until the answer's headers are in): providers
     * that cap concurrency count it per token (GitHub, Asana), so it is per connection.
     */
    concurrency: z
      .number()
      .int('expected a whole number of requests in flight')
      .min(1, 'expected at least 1 request in flight')
      .max(1_000, 'expected at most 1000 requests in flight')
      .optional(),
  })
  // Only on an otherwise valid block: after a misspelt key this would be a second, misleading message.
  .refine((r) => r.perConnection !== undefined || r.perApp !== undefined, {
    message: 'give perConnection, perApp or both',
    when: (p) => p.issues.length === 0,
  });

/**
 * The request header that carries the outbox's idempotency key on writes (Stripe:
 * `Idempotency-Key`). RFC 9110 §5.1: a field name is a token.
 */
export const idempotencyHeaderSchema = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a header name');

export type Bucket = z.infer<typeof bucketSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
