import { createHmac } from 'node:crypto';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import type { WebhookScheme } from '../../src/definition/webhooks.js';

/**
 * How each provider signs, written from its own docs and, where the provider publishes one, its
 * own library — never from the verifier under test. Headers come out as Node would hand them
 * over: lowercase names.
 */
export interface SchemeCase {
  scheme: WebhookScheme;
  /** Two unrelated secrets in the form the provider issues. */
  secrets: [string, string];
  encoding: 'hex' | 'base64';
  /** The header carrying the signature, and every header the scheme cannot do without. */
  signatureHeader: string;
  required: string[];
  /** Where the signed timestamp sits, for schemes that sign one. */
  timestampHeader?: string;
  sign(body: string, secret: string, seconds: number): Promise<Record<string, string>>;
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

const stripe = new Stripe('sk_test_unused');

export const CASES: SchemeCase[] = [
  {
    scheme: 'standard-webhooks',
    secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD'],
    encoding: 'base64',
    signatureHeader: 'webhook-signature',
    required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    timestampHeader: 'webhook-timestamp',
    sign: async (body, secret, seconds) => ({
      'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
      'webhook-timestamp': String(seconds),
      'webhook-signature': new Webhook(secret).sign('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', new Date(seconds * 1000), body),
    }),
  },
  {
    scheme: 'stripe',
    secrets: ['whsec_3c8e1f0a9b7d6c5e4f3a2b1c0d9e8f7a', 'whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0'],
    encoding: 'hex',
    signatureHeader: 'stripe-signature',
    required: ['stripe-signature'],
    sign: async (payload, secret, timestamp) => ({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }) }),
  },
  {
    scheme: 'github',
    secrets: ["It's a Secret to Everybody", 'gh-hook-secret-2'],
    encoding: 'hex',
    signatureHeader: 'x-hub-signature-256',
    required: ['x-hub-signature-256'],
    sign: async (body, secret) => ({ 'x-hub-signature-256': await githubSign(secret, body) }),
  },
  {
    scheme: 'slack',
    secrets: ['8f742231b10e8888abcd99yyyzzz85a5', '1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a'],
    encoding: 'hex',
    signatureHeader: 'x-slack-signature',
    required: ['x-slack-signature', 'x-slack-request-timestamp'],
    timestampHeader: 'x-slack-request-timestamp',
    // api.slack.com/authentication/verifying-requests-from-slack: v0= + hex HMAC of `v0:<ts>:<body>`.
    sign: async (body, secret, seconds) => ({
      'x-slack-request-timestamp': String(seconds),
      'x-slack-signature': `v0=${hmac(secret, `v0:${seconds}:${body}`).toString('hex')}`,
    }),
  },
  {
    scheme: 'shopify',
    secrets: ['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', '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'],
    encoding: 'base64',
    signatureHeader: 'x-shopify-hmac-sha256',
    required: ['x-shopify-hmac-sha256'],
    // shopify.dev "Verify webhooks": base64 HMAC-SHA256 of the raw body with the app's client secret.
    sign: async (body, secret) => ({ 'x-shopify-hmac-sha256': hmac(secret, body).toString('base64') }),
  },
  {
    scheme: 'jira',
    secrets: ['jira-webhook-secret-4f1b2c', 'jira-webhook-secret-9e8d7c'],
    encoding: 'hex',
    signatureHeader: 'x-hub-signature',
    required: ['x-hub-signature'],
    // developer.atlassian.com "Webhooks" (secure admin webhooks): X-Hub-Signature: <method>=<hex HMAC of the body>.
    sign: async (body, secret) => ({ 'x-hub-signature': `sha256=${hmac(secret, body).toString('hex')}` }),
  },
  {
    scheme: 'upagents',
    secrets: ['whsec_your_webhook_secret', 'whsec_rotated_webhook_secret'],
    encoding: 'hex',
    signatureHeader: 'x-webhook-signature',
    required: ['x-webhook-signature', 'x-webhook-timestamp'],
    timestampHeader: 'x-webhook-timestamp',
    // Seed 000, "Webhook Signature Verification": hex HMAC of f"{timestamp}.{body}" keyed with the secret's bytes.
    sign: async (body, secret, seconds) => ({
      'x-webhook-timestamp': String(seconds),
      'x-webhook-signature': hmac(secret, `${seconds}.${body}`).toString('hex'),
    }),
  },
];

/** The encoded MAC inside a signature header (the first one, for headers that can hold several). */
export function macIn(value: string, encoding: 'hex' | 'base64'): string {
  const m = (encoding === 'hex' ? /[0-9a-f]{64}/ : /[A-Za-z0-9+/]{43}=/).exec(value);
  if (!m) throw new Error(`no ${encoding} MAC in ${value}`);
  return m[0];
}

/** The same header with its timestamp replaced, wherever the scheme keeps it. */
export function withTimestamp(c: SchemeCase, headers: Record<string, string>, seconds: string): Record<string, string> {
  if (c.timestampHeader) return { ...headers, [c.timestampHeader]: seconds };
  const sig = headers[c.signatureHeader]!;
  return { ...headers, [c.signatureHeader]: sig.replace(/^t=[^,]*/, `t=${seconds}`) };
}

export const SIGNS_TIMESTAMP = new Set<WebhookScheme>(['standard-webhooks', 'stripe', 'slack', 'upagents']);
