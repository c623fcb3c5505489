import type { WebhookScheme } from '../../definition/webhooks.js';

/** Why a delivery's headers cannot be checked, before any HMAC is computed. */
export type ReadProblem = { code: 'missing_header' | 'bad_signature' | 'bad_timestamp'; message: string };

/** What a scheme found in a delivery's headers. */
export interface SignedParts {
  /** Candidate signatures as sent, still encoded; any one of them may match. */
  signatures: string[];
  /** The timestamp as sent, when the scheme signs one (checked as seconds by the verifier). */
  timestamp?: string;
  /** What the sender signed before the raw body. */
  prefix: string;
}

/** A value of a header, or undefined when it is absent or empty. */
export type HeaderReader = (name: string) => string | undefined;

/**
 * One provider's signature format as data: where the signatures are, how they are encoded, how
 * the configured secret becomes the HMAC-SHA256 key, and the bytes signed before the body.
 * Parsers are strict on purpose: a header changed in any byte is never read as the same one.
 */
export interface SchemeSpec {
  encoding: 'hex' | 'base64';
  /** `utf8`: the secret string as is. `whsec-base64`: the base64 after an optional `whsec_`. */
  key: 'utf8' | 'whsec-base64';
  read(header: HeaderReader): SignedParts | ReadProblem;
}

function missing(...names: string[]): ReadProblem {
  return { code: 'missing_header', message: `the ${names.join(' and ')} header${names.length > 1 ? 's are' : ' is'} missing` };
}

function badSignature(message: string): ReadProblem {
  return { code: 'bad_signature', message };
}

/** `<method>=<value>` as GitHub, Jira and Slack send it; only `method` is accepted. */
function prefixed(header: HeaderReader, name: string, method: string): SignedParts | ReadProblem {
  const value = header(name);
  if (value === undefined) return missing(name);
  const eq = value.indexOf('=');
  if (eq < 0) return badSignature(`${name} is not <method>=<signature>`);
  // Jira (X-Hub-Signature) names the HMAC method; anything but the one we compute is refused.
  if (value.slice(0, eq) !== method) return badSignature(`${name} uses a method other than ${method}`);
  return { signatures: [value.slice(eq + 1)], prefix: '' };
}

/**
 * Svix, which wrote Standard Webhooks, and the services that send through it (Clerk, Resend, …)
 * name the headers `svix-id`, `svix-timestamp` and `svix-signature`, as Svix's own verifier reads
 * them; the spec's names are `webhook-*`. Either is read, the spec's first.
 */
export function standardHeader(header: HeaderReader, name: string): string | undefined {
  return header(`webhook-${name}`) ?? header(`svix-${name}`);
}

/** The Standard Webhooks signature list: space-delimited `<version>,<signature>` entries. */
function standardWebhooks(header: HeaderReader): SignedParts | ReadProblem {
  const id = standardHeader(header, 'id');
  const timestamp = standardHeader(header, 'timestamp');
  const list = standardHeader(header, 'signature');
  if (id === undefined || timestamp === undefined || list === undefined) {
    const absent = (['id', 'timestamp', 'signature'] as const).filter((n) => standardHeader(header, n) === undefined);
    return missing(...absent.map((n) => `webhook-${n} (or svix-${n})`));
  }
  const signatures: string[] = [];
  for (const entry of list.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma <= 0) return badSignature('webhook-signature is not a space-separated list of <version>,<signature>');
    // v1a entries are Ed25519 signatures (asymmetric keys), which an HMAC secret cannot check.
    if (entry.slice(0, comma) === 'v1') signatures.push(entry.slice(comma + 1));
  }
  return { signatures, timestamp, prefix: `${id}.${timestamp}.` };
}

/** `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…][,v0=…]` (Stripe docs, "Verify manually"). */
function stripe(header: HeaderReader): SignedParts | ReadProblem {
  const value = header('stripe-signature');
  if (value === undefined) return missing('stripe-signature');
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return badSignature('stripe-signature is not a comma-separated list of <key>=<value>');
    const key = item.slice(0, eq);
    if (key === 't') {
      if (timestamp !== undefined) return { code: 'bad_timestamp', message: 'stripe-signature has more than one t=' };
      timestamp = item.slice(eq + 1);
    } else if (key === 'v1') {
      signatures.push(item.slice(eq + 1));
    }
    // v0 is Stripe's test-mode scheme signed with another secret; other keys are for later schemes.
  }
  if (timestamp === undefined) return { code: 'bad_timestamp', message: 'stripe-signature has no t=' };
  return { signatures, timestamp, prefix: `${timestamp}.` };
}

function slack(header: HeaderReader): SignedParts | ReadProblem {
  const timestamp = header('x-slack-request-timestamp');
  if (timestamp === undefined) return missing('x-slack-request-timestamp');
  const parts = prefixed(header, 'x-slack-signature', 'v0');
  // Slack's "Verifying requests from Slack": basestring = v0:<timestamp>:<body>.
  return 'code' in parts ? parts : { ...parts, timestamp, prefix: `v0:${timestamp}:` };
}

function single(name: string): (header: HeaderReader) => SignedParts | ReadProblem {
  return (header) => {
    const value = header(name);
    return value === undefined ? missing(name) : { signatures: [value], prefix: '' };
  };
}

function upagents(header: HeaderReader): SignedParts | ReadProblem {
  const timestamp = header('x-webhook-timestamp');
  const signature = header('x-webhook-signature');
  if (timestamp === undefined || signature === undefined) {
    return missing(...(timestamp === undefined ? ['x-webhook-timestamp'] : []), ...(signature === undefined ? ['x-webhook-signature'] : []));
  }
  return { signatures: [signature], timestamp, prefix: `${timestamp}.` };
}

/** Exact headers and signed bytes: shared/FACTS.md, "Webhook signature schemes". */
export const SCHEMES = {
  // Standard Webhooks spec: signed `id.timestamp.body`, key = base64 after `whsec_`.
  'standard-webhooks': { encoding: 'base64', key: 'whsec-base64', read: standardWebhooks },
  // Stripe keys its HMAC with the whole `whsec_…` string, not its decoded tail.
  stripe: { encoding: 'hex', key: 'utf8', read: stripe },
  github: { encoding: 'hex', key: 'utf8', read: (h) => prefixed(h, 'x-hub-signature-256', 'sha256') },
  slack: { encoding: 'hex', key: 'utf8', read: slack },
  // Shopify's "Verify webhooks": base64 of the HMAC-SHA256 of the raw body with the app's client secret.
  shopify: { encoding: 'base64', key: 'utf8', read: single('x-shopify-hmac-sha256') },
  jira: { encoding: 'hex', key: 'utf8', read: (h) => prefixed(h, 'x-hub-signature', 'sha256') },
  // Seed 000: hex(HMAC-SHA256(secret, `${timestamp}.${body}`)), the secret's UTF-8 bytes as the key.
  upagents: { encoding: 'hex', key: 'utf8', read: upagents },
} as const satisfies Record<WebhookScheme, SchemeSpec>;
