import { accountSchema } from './account.js';
import { allowedHostsSchema } from './api-base.js';
import { pollSchema } from './poll.js';
import { idempotencyHeaderSchema, rateLimitSchema } from './rate-limit.js';
import { refusalSchema } from './refusal.js';
import { bodyEncodingSchema } from './tools.js';

/**
 * The blocks the outbox and the poller read, with one schema whether a built-in definition
 * (defineIntegration) or a custom integration in config declares them. Webhooks differ only in
 * who holds the secrets (see webhooks.ts), so each side adds its own webhooks key.
 */
export const integrationBlocks = {
  rateLimit: rateLimitSchema.optional(),
  idempotencyHeader: idempotencyHeaderSchema.optional(),
  poll: pollSchema.optional(),
  /** How a linked account's provider id is learned, for routing webhooks to it. */
  account: accountSchema.optional(),
  /** The hosts a base URL learned per connection (`{instanceUrl}/…`) may name; a fixed base's host must be among them. */
  allowedHosts: allowedHostsSchema.optional(),
  /** How a provider says "refused" in a 2xx answer (Slack's `ok: false`). */
  refusal: refusalSchema.optional(),
  /** How templates send their bodies unless a tool says otherwise: `json` (the default) or `form` (Stripe). */
  bodyEncoding: bodyEncodingSchema.optional(),
};
