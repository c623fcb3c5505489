import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { CustomIntegrationConfig } from '../config/schema.js';
import { integrationBlocks } from '../definition/blocks.js';
import { integrationToolNameSchema, sourceNameSchema } from '../definition/names.js';
import { apiValuesRule } from '../definition/account.js';
import { apiBaseUrlSchema } from '../definition/api-base.js';
import { oneAuthMode, staticAuthSchema } from '../definition/auth.js';
import { oauthSchema } from '../definition/oauth.js';
import { checkTool, toolShape } from '../definition/tools.js';
import { PARSED_ONCE } from '../parse-once.js';
import { webhookFormatSchema, type WebhooksConfig } from '../definition/webhooks.js';
import type { Logger } from '../observability/logger.js';

/** What a tool handler gets: an authorized fetch (the hub injects credentials; the handler never sees them). */
export interface IntegrationContext {
  /** Fetches a path relative to the integration's API base URL (or an absolute URL on that origin). */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  signal: AbortSignal;
  log: Logger;
}

export type ToolHandler = (input: Record<string, unknown>, ctx: IntegrationContext) => Promise<CallToolResult | unknown>;

/**
 * Tools defined in code may use a handler instead of a template. A handler of a write tool runs in
 * the outbox's worker, so it may run again after a crash: it is replay-safe only where the
 * integration sends an idempotency key or the tool is declared `idempotent`.
 */
export const toolSchema = z
  .strictObject({ ...toolShape, handler: z.custom<ToolHandler>((v) => typeof v === 'function', 'handler must be a function').optional() })
  .refine((t) => t.handler !== undefined || (t.method !== undefined && t.path !== undefined), 'a tool needs a handler, or "method" and "path"')
  .superRefine(checkTool);

/** A provider's definition: what it is and how to reach it. Secrets never appear here; config holds them. */
export const integrationSchema = z
  .strictObject({
    name: sourceNameSchema,
    title: z.string().min(1),
    description: z.string().optional(),
    /** Each user links an account through this authorization server. */
    oauth: oauthSchema.optional(),
    /** Or the API is called with one key from config (or none): nothing to link. */
    auth: staticAuthSchema.optional(),
    apiBaseUrl: apiBaseUrlSchema(z.url()),
    tools: z.record(integrationToolNameSchema, toolSchema),
    webhooks: webhookFormatSchema.optional(),
    ...integrationBlocks,
  })
  .superRefine(oneAuthMode);

/** A definition written whole (in code): its apiBaseUrl's placeholders against its account.values. */
const wholeDefinitionSchema = integrationSchema.superRefine(apiValuesRule);

export type IntegrationDefinition = z.infer<typeof integrationSchema>;
export type IntegrationInput = z.input<typeof integrationSchema>;
export type ToolDefinition = z.infer<typeof toolSchema>;

/** Checks a provider definition once, where it is written; `z.infer` is its type. */
export function defineIntegration(input: IntegrationInput): IntegrationDefinition {
  return parsedDefinition(input, wholeDefinitionSchema);
}

function parsedDefinition(input: IntegrationInput, schema: typeof integrationSchema | typeof wholeDefinitionSchema): IntegrationDefinition {
  const r = schema.safeParse(input, PARSED_ONCE);
  if (!r.success) {
    const where = typeof input === 'object' && input !== null && 'name' in input ? String(input.name) : '(unnamed)';
    throw new Error(`integration ${where}: ${describeIssues(r.error.issues)}`);
  }
  return r.data;
}

/**
 * A custom integration's definition from its config entry, which the config schema has already
 * parsed: the blocks are carried over as parsed (their selectors and paths are no longer the
 * strings the schema reads, so they cannot go through defineIntegration a second time), and the
 * webhook secrets stay out of the definition, beside it.
 */
export function definitionFromConfig(
  name: string,
  entry: CustomIntegrationConfig,
): { definition: IntegrationDefinition; webhooks: WebhooksConfig | undefined } {
  const oauth = entry.oauth && (({ clientId: _id, clientSecret: _secret, ...o }) => o)(entry.oauth);
  // The key's value stays in config: the definition says only how it is sent.
  const auth = entry.auth && (entry.auth.type === 'apiKey' ? (({ value: _v, ...a }) => a)(entry.auth) : entry.auth);
  // The blocks are added below; the config's schema checked the placeholders against them (apiValuesRule).
  const base = parsedDefinition(
    {
      name,
      title: entry.title ?? name,
      ...(entry.description ? { description: entry.description } : {}),
      ...(oauth ? { oauth } : {}),
      ...(auth ? { auth } : {}),
      apiBaseUrl: entry.apiBaseUrl,
      tools: entry.tools,
    },
    integrationSchema,
  );
  const blocks = {
    rateLimit: entry.rateLimit,
    idempotencyHeader: entry.idempotencyHeader,
    poll: entry.poll,
    account: entry.account,
    allowedHosts: entry.allowedHosts,
    refusal: entry.refusal,
    bodyEncoding: entry.bodyEncoding,
  };
  const format = entry.webhooks === undefined ? undefined : (({ secrets: _s, ...f }) => f)(entry.webhooks);
  const definition: IntegrationDefinition = { ...base, ...dropUndefined(blocks), ...(format ? { webhooks: format } : {}) };
  return { definition, webhooks: entry.webhooks };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `path: message` per issue; a bad record key says what is wrong with it rather than only "Invalid key in record". */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const why = i.code === 'invalid_key' && i.issues.length > 0 ? i.issues.map((k) => k.message).join('; ') : i.message;
      return `${i.path.map(String).join('.') || '(root)'}: ${why}`;
    })
    .join('; ');
}
