import { z } from 'zod';
import { parseSelector, selectorSchema, type Selector } from './selector.js';

/**
 * The signature schemes the verifier knows (shared/FACTS.md, "Webhook signature schemes"), with
 * what each provider puts where. `upagents` is the agent marketplace's scheme (seed 000), which
 * agents' callbacks reuse: `X-Webhook-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))`
 * with `X-Webhook-Timestamp`; it has no standard delivery id, so `idFrom` must be given.
 */
export const WEBHOOK_SCHEMES = ['standard-webhooks', 'stripe', 'github', 'slack', 'shopify', 'jira', 'upagents'] as const;
export type WebhookScheme = (typeof WEBHOOK_SCHEMES)[number];

/** Names configs used before a scheme was renamed; they keep loading as the scheme they became. */
export const DEPRECATED_SCHEME_NAMES = { 'hmac-sha256': 'upagents' } as const satisfies Record<string, WebhookScheme>;
type DeprecatedSchemeName = keyof typeof DEPRECATED_SCHEME_NAMES;

// The input type lists every accepted name (a typo in a definition still fails to compile); the
// enum's message lists only current ones.
const schemeSchema = z.preprocess(
  (v: WebhookScheme | DeprecatedSchemeName) =>
    typeof v === 'string' && Object.hasOwn(DEPRECATED_SCHEME_NAMES, v) ? DEPRECATED_SCHEME_NAMES[v as DeprecatedSchemeName] : v,
  z.enum(WEBHOOK_SCHEMES),
);

interface SchemeFacts {
  /** Whether the signed bytes include a timestamp, so a tolerance window applies. */
  signsTimestamp: boolean;
  /** The provider's delivery id, kept for dedupe: retries carry the same id. */
  idFrom?: string;
  typeFrom?: string;
  /**
   * Where a provider that posts several shapes of delivery to one URL keeps the type and the
   * account in its other shapes: tried in order when the configured (or default) selector reads
   * nothing from a delivery.
   */
  otherShapes?: { typeFrom?: readonly string[]; accountFrom?: readonly string[] };
}

export const SCHEME_FACTS = {
  'standard-webhooks': { signsTimestamp: true, idFrom: 'header:webhook-id', typeFrom: 'body:type' },
  stripe: { signsTimestamp: true, idFrom: 'body:id', typeFrom: 'body:type' },
  github: { signsTimestamp: false, idFrom: 'header:x-github-delivery', typeFrom: 'header:x-github-event' },
  // A Slack app has one request URL per feature for every workspace, and its shapes differ
  // (docs.slack.dev): the Events API has `team_id` and `event.type`; interactivity's `payload` JSON
  // has `team.id` and its own `type` (block_actions, view_submission, …); a slash command's form
  // has `team_id` and `command`. With one selector, one of them could never be routed.
  slack: {
    signsTimestamp: true,
    idFrom: 'body:event_id',
    typeFrom: 'body:event.type',
    otherShapes: { typeFrom: ['body:type', 'body:command'], accountFrom: ['body:team_id', 'body:team.id'] },
  },
  shopify: { signsTimestamp: false, idFrom: 'header:x-shopify-event-id', typeFrom: 'header:x-shopify-topic' },
  jira: { signsTimestamp: false, idFrom: 'header:x-atlassian-webhook-identifier', typeFrom: 'body:webhookEvent' },
  upagents: { signsTimestamp: true },
} as const satisfies Record<WebhookScheme, SchemeFacts>;

export const DEFAULT_WEBHOOK_MAX_BODY_BYTES = 1024 * 1024;
/** Standard Webhooks, Stripe and Slack all reject signatures older than five minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

// Messages never echo a secret: config errors are printed and logged.
const secretSchema = z.string().min(1, 'a secret is empty (is its ${VARIABLE} set?)');

const fields = {
  scheme: schemeSchema,
  /** Every secret that may have signed a delivery: more than one while a secret is rotated. */
  secrets: z.array(secretSchema).min(1).max(10),
  /** The delivery id (dedupe key); defaults to the scheme's. */
  idFrom: selectorSchema.optional(),
  /** The event's own id, when a provider sends one event in several deliveries. */
  eventIdFrom: selectorSchema.optional(),
  typeFrom: selectorSchema.optional(),
  /** Which linked account an event belongs to. */
  accountFrom: selectorSchema.optional(),
  /**
   * The provider asks for a URL per linked account (a GitHub repository hook, a Stripe Connect
   * endpoint): each connection gets its own `/webhooks/<integration>/<endpoint>` when it is linked.
   */
  endpointPerConnection: z.boolean().optional(),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .optional(),
  /** How far a signed timestamp may be from now. A window is not a dedupe window: retries re-sign. */
  toleranceSeconds: z.number().int().min(1).max(3600).optional(),
};

type FormatInput = { scheme: WebhookScheme; idFrom?: Selector | undefined; toleranceSeconds?: number | undefined };

function checkFormat(w: FormatInput, ctx: z.RefinementCtx): void {
  const facts: SchemeFacts = SCHEME_FACTS[w.scheme];
  if (w.idFrom === undefined && facts.idFrom === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['idFrom'],
      message: `scheme ${w.scheme} has no standard delivery id: say where it is (header:NAME, body:path or query:NAME)`,
    });
  }
  if (w.toleranceSeconds !== undefined && !facts.signsTimestamp) {
    ctx.addIssue({ code: 'custom', path: ['toleranceSeconds'], message: `scheme ${w.scheme} signs no timestamp, so no tolerance applies` });
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Why a secret cannot verify deliveries of this scheme, without echoing it: catches one pasted
 * from the wrong field. The config and `connections webhook-secret` both ask it.
 */
export function secretProblem(scheme: WebhookScheme, secret: string): string | undefined {
  // Standard Webhooks: the key is the base64 after `whsec_`. Stripe: the whole `whsec_…` string.
  if (scheme === 'standard-webhooks' && !BASE64.test(secret.replace(/^whsec_/, '')))
    return 'a standard-webhooks secret is base64, after an optional whsec_ prefix';
  if (scheme === 'stripe' && !secret.startsWith('whsec_')) return 'a Stripe endpoint secret starts with whsec_ (an API key does not verify webhooks)';
  return undefined;
}

function checkSecrets(w: { scheme: WebhookScheme; secrets: string[] }, ctx: z.RefinementCtx): void {
  w.secrets.forEach((s, i) => {
    const problem = secretProblem(w.scheme, s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['secrets', i], message: problem });
  });
}

function builtinSelector(text: string | undefined): Selector | undefined {
  if (text === undefined) return undefined;
  const s = parseSelector(text);
  // A typo in the table above: fail when the module loads, not on a provider's first delivery.
  if (typeof s === 'string') throw new Error(`SCHEME_FACTS: ${text}: ${s}`);
  return s;
}

/** The scheme's default selectors, parsed once. */
const SCHEME_DEFAULTS = Object.fromEntries(
  WEBHOOK_SCHEMES.map((scheme) => {
    const facts: SchemeFacts = SCHEME_FACTS[scheme];
    return [scheme, { idFrom: builtinSelector(facts.idFrom), typeFrom: builtinSelector(facts.typeFrom) }];
  }),
) as Record<WebhookScheme, { idFrom?: Selector | undefined; typeFrom?: Selector | undefined }>;

/** The scheme's selectors for its other delivery shapes (SchemeFacts.otherShapes), parsed once. */
export const SCHEME_OTHER_SHAPES = Object.fromEntries(
  WEBHOOK_SCHEMES.map((scheme) => {
    const facts: SchemeFacts = SCHEME_FACTS[scheme];
    const parsed = (texts: readonly string[] | undefined) => (texts ?? []).map((t) => builtinSelector(t)!);
    return [scheme, { typeFrom: parsed(facts.otherShapes?.typeFrom), accountFrom: parsed(facts.otherShapes?.accountFrom) }];
  }),
) as Record<WebhookScheme, { typeFrom: Selector[]; accountFrom: Selector[] }>;

type Format = FormatInput & { typeFrom?: Selector | undefined; maxBodyBytes?: number | undefined };

/** Fills what the scheme implies; checkFormat has made sure an idFrom exists. */
function withDefaults<T extends Format>(w: T): T & { idFrom: Selector; maxBodyBytes: number } {
  const defaults = SCHEME_DEFAULTS[w.scheme];
  const typeFrom = w.typeFrom ?? defaults.typeFrom;
  return {
    ...w,
    idFrom: (w.idFrom ?? defaults.idFrom)!,
    ...(typeFrom ? { typeFrom } : {}),
    maxBodyBytes: w.maxBodyBytes ?? DEFAULT_WEBHOOK_MAX_BODY_BYTES,
    ...(SCHEME_FACTS[w.scheme].signsTimestamp ? { toleranceSeconds: w.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS } : {}),
  };
}

const { secrets, ...formatFields } = fields;

/** What a provider's definition says about its webhooks: the format, never a secret. */
export const webhookFormatSchema = z.strictObject(formatFields).superRefine(checkFormat).transform(withDefaults);

/** A custom integration's webhooks, declared in config: the format and its secrets. */
export const webhooksSchema = z
  .strictObject(fields)
  .superRefine((w, ctx) => {
    checkFormat(w, ctx);
    checkSecrets(w, ctx);
  })
  .transform(withDefaults);

/** What the operator of a built-in integration configures: its secrets and limits. */
export const webhookSettingsSchema = z.strictObject({
  secrets: secrets.optional(),
  maxBodyBytes: fields.maxBodyBytes,
  toleranceSeconds: fields.toleranceSeconds,
});

export type WebhookFormat = z.infer<typeof webhookFormatSchema>;
export type WebhooksConfig = z.infer<typeof webhooksSchema>;
export type WebhookSettings = z.infer<typeof webhookSettingsSchema>;

/**
 * A built-in integration's webhooks: its definition's format with the operator's settings over
 * it. Without secrets there is nothing to verify with, so the integration takes no webhooks.
 * Returns a message (for the config path `webhooks`) when the settings cannot apply.
 */
export function applyWebhookSettings(format: WebhookFormat | undefined, settings: WebhookSettings | undefined): WebhooksConfig | undefined | { error: string } {
  if (settings === undefined) return undefined;
  if (format === undefined) return { error: 'this integration receives no webhooks' };
  if (settings.toleranceSeconds !== undefined && !SCHEME_FACTS[format.scheme].signsTimestamp) {
    return { error: `toleranceSeconds: scheme ${format.scheme} signs no timestamp, so no tolerance applies` };
  }
  if (settings.secrets === undefined) return undefined;
  return {
    ...format,
    secrets: settings.secrets,
    ...(settings.maxBodyBytes === undefined ? {} : { maxBodyBytes: settings.maxBodyBytes }),
    ...(settings.toleranceSeconds === undefined ? {} : { toleranceSeconds: settings.toleranceSeconds }),
  };
}
