import { createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';

const PREFIX = 'whsec_';

/**
 * A Standard Webhooks signing secret: `whsec_` and the base64 key. The specification asks for a
 * key of 24 to 64 bytes (192–512 bits); anything else is refused rather than silently weak.
 */
export const webhookSecretSchema = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'a webhook secret is whsec_ followed by a base64 key')
  .refine((s) => {
    const n = keyOf(s).length;
    return n >= 24 && n <= 64;
  }, 'the key of a webhook secret is 24 to 64 bytes');

/** A new secret for one endpoint: 32 random bytes. */
export function newWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.slice(PREFIX.length), 'base64');
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Standard Webhooks: HMAC-SHA256 over `id.timestamp.body` keyed with the base64-decoded part of
 * the secret, sent as `v1,<base64>`; the timestamp is in whole seconds.
 */
export function signDelivery(secret: string, id: string, nowMs: number, body: string): SignedHeaders {
  const timestamp = String(Math.floor(nowMs / 1000));
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}
