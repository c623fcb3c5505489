import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';

/** What a tool handler gets: an authorized fetch (the hub injects credentials; the handler never sees them). */
export interface IntegrationContext {
  /** Fetches a path relative to the integration's API base URL (or an absolute URL on that origin). */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  signal: AbortSignal;
  log: Logger;
}

export type ToolHandler = (input: Record<string, unknown>, ctx: IntegrationContext) => Promise<CallToolResult | unknown>;

const jsonSchemaObject = z
  .record(z.string(), z.unknown())
  .refine((s) => s['type'] === undefined || s['type'] === 'object', 'a tool input schema must be of type "object"');

export const toolNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'use 1–48 characters from A-Z a-z 0-9 _ -');

const toolShape = {
  description: z.string().min(1),
  title: z.string().optional(),
  /** JSON Schema of the arguments. */
  input: jsonSchemaObject.default({ type: 'object', properties: {} }),
  /** JSON Schema of the structured result, when there is one. */
  output: jsonSchemaObject.optional(),
  readOnly: z.boolean().default(false),
  destructive: z.boolean().optional(),
  idempotent: z.boolean().optional(),
  /** An HTTP request template: `{name}` in the path takes that argument; the rest go to the query (GET, DELETE) or the JSON body. */
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
  path: z.string().startsWith('/').optional(),
};

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

/**
 * A template's `{name}` segments are filled from arguments the model can only know of through the
 * input schema: each must be a declared property, and no other brace may remain in the path (it
 * would be sent literally).
 */
function checkTemplate(t: { path?: string | undefined; input: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  if (t.path === undefined) return;
  if (/[{}]/.test(t.path.replace(PLACEHOLDER, ''))) {
    ctx.addIssue({ code: 'custom', path: ['path'], message: 'use {name} placeholders of A-Z a-z 0-9 _ only' });
    return;
  }
  const props = t.input['properties'];
  const declared = typeof props === 'object' && props !== null ? Object.keys(props) : [];
  for (const [, name] of t.path.matchAll(PLACEHOLDER)) {
    if (!declared.includes(name!)) ctx.addIssue({ code: 'custom', path: ['path'], message: `{${name}} is not a property of the tool's input schema` });
  }
}

/** Tools declared in config: templates only. */
export const templateToolSchema = z
  .strictObject(toolShape)
  .refine((t) => t.method !== undefined && t.path !== undefined, 'a tool needs "method" and "path"')
  .superRefine(checkTemplate);

/** Tools defined in code may use a handler instead of a template. */
export const toolSchema = z
  .strictObject({ ...toolShape, handler: z.custom<ToolHandler>((v) => typeof v === 'function', 'handler must be a function').optional() })
  .refine((t) => t.handler !== undefined || (t.method !== undefined && t.path !== undefined), 'a tool needs a handler, or "method" and "path"')
  .superRefine(checkTemplate);

export const oauthSchema = z.strictObject({
  authorizeUrl: z.url(),
  tokenUrl: z.url(),
  revokeUrl: z.url().optional(),
  /** RFC 9207: the `iss` the authorization server puts on its callback; defaults to the authorize URL's origin. */
  issuer: z.string().optional(),
  /** The server always sends `iss` (RFC 9207 §3): a callback without it is then refused. */
  requireIss: z.boolean().default(false),
  scopes: z.array(z.string()).default([]),
  scopeSeparator: z.string().default(' '),
  tokenAuth: z.enum(['basic', 'body']).default('basic'),
  extraAuthorizeParams: z.record(z.string(), z.string()).default({}),
});

export const integrationSchema = z.strictObject({
  name: toolNameSchema,
  title: z.string().min(1),
  description: z.string().optional(),
  oauth: oauthSchema,
  apiBaseUrl: z.url(),
  tools: z.record(toolNameSchema, toolSchema),
});

export type IntegrationDefinition = z.infer<typeof integrationSchema>;
export type IntegrationInput = z.input<typeof integrationSchema>;
export type ToolDefinition = z.infer<typeof toolSchema>;

/** Checks a provider definition once, where it is written; `z.infer` is its type. */
export function defineIntegration(input: IntegrationInput): IntegrationDefinition {
  const r = integrationSchema.safeParse(input);
  if (!r.success) {
    const where = typeof input === 'object' && input !== null && 'name' in input ? String(input.name) : '(unnamed)';
    throw new Error(`integration ${where}: ${describeIssues(r.error.issues)}`);
  }
  return r.data;
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
