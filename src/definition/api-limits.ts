import { z } from 'zod';

/**
 * How the hub calls one integration's API (the provider client's limits), over its defaults of
 * 30 s, 10 MiB and 2 retries of requests safe to repeat.
 */
export const apiLimitsSchema = z.strictObject({
  /** How long one request may take to answer, body included; one that does not is not sent again. */
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
  /** The response body is cut past this many bytes. */
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .max(256 * 1024 * 1024)
    .optional(),
  /** Further attempts of GET/HEAD and of tools declared idempotent; writes are never resent. */
  retries: z.number().int().min(0).max(10).optional(),
  /** A longer Retry-After is not waited out: the 429/503 is the tool's answer. */
  maxRetryAfterMs: z.number().int().min(0).max(600_000).optional(),
});

export type ApiLimits = z.infer<typeof apiLimitsSchema>;
