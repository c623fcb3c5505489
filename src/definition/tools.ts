import { z } from 'zod';
import { jsonSchemaProblems } from './json-schema-shape.js';

/**
 * How a template's body is sent: JSON, or an HTML form (`application/x-www-form-urlencoded`) with
 * nested values in brackets (`metadata[order]=7`, `items[0][price]=p_1`), as Stripe takes them.
 */
export const bodyEncodingSchema = z.enum(['json', 'form']);
export type BodyEncoding = z.infer<typeof bodyEncodingSchema>;

/**
 * A tool's schema, checked at load as agents' are (json-schema-shape.ts): a schema a validator
 * cannot compile would otherwise fail every call of the tool, and an SDK client listing it would
 * fail its whole tools/list. Each problem is an issue at its place (`properties.a.type`).
 */
const jsonSchemaObject = (which: 'input' | 'output') =>
  z.record(z.string(), z.unknown()).superRefine((s, ctx) => {
    if (s['type'] !== undefined && s['type'] !== 'object') {
      // MCP lists both as object schemas (a tool's arguments and its structuredContent are objects).
      const message =
        which === 'input'
          ? 'a tool input schema must be of type "object"'
          : 'a tool output schema must be of type "object", as MCP structured results are objects (leave "output" out for an API that answers with a list)';
      ctx.addIssue({ code: 'custom', message });
      return;
    }
    for (const problem of jsonSchemaProblems(s)) ctx.addIssue({ code: 'custom', message: problem });
  });

/** The fields of a tool, whether declared in config (a template) or in code (which may add a handler). */
export const toolShape = {
  description: z.string().min(1),
  title: z.string().optional(),
  /** JSON Schema of the arguments. */
  input: jsonSchemaObject('input').default({ type: 'object', properties: {} }),
  /** JSON Schema of the structured result, when there is one. */
  output: jsonSchemaObject('output').optional(),
  readOnly: z.boolean().default(false),
  destructive: z.boolean().optional(),
  idempotent: z.boolean().optional(),
  /** An HTTP request template: `{name}` in the path takes that argument; the rest go to the query (GET, DELETE) or the JSON body. */
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
  path: z.string().startsWith('/').optional(),
  /**
   * Where the arguments the path does not take go, over the method's default (the query for GET
   * and DELETE, the body for the others): GitHub's "delete a file" is a DELETE with a JSON body.
   */
  argsIn: z.enum(['query', 'body']).optional(),
  /** Arguments sent in the query whatever `argsIn` says (a POST that takes `?name=` beside its body). */
  query: z.array(z.string().min(1)).min(1).optional(),
  /** This tool's body encoding, over the integration's `bodyEncoding` (default JSON). */
  bodyEncoding: bodyEncodingSchema.optional(),
  /**
   * A write's arguments and the provider's answer are stored sealed with the tenant's data key.
   * Absent means false (left out, so a parsed tool shows only what was declared).
   */
  sensitive: z.boolean().optional(),
  /**
   * Writes sent one at a time, in the order they were queued: `"connection"` for every write of
   * the connection so declared, `{ key: "<argument>" }` for those whose argument has one value.
   */
  ordering: z
    .union([z.literal('connection'), z.strictObject({ key: z.string().min(1) })], {
      error: 'expected "connection" or { "key": "<argument name>" }',
    })
    .optional(),
};

/** The names `input.properties` declares, and those it lists as `required`. */
function declaredArguments(input: Record<string, unknown>): { declared: string[]; required: string[] } {
  const props = input['properties'];
  const required = input['required'];
  return {
    declared: typeof props === 'object' && props !== null ? Object.keys(props) : [],
    required: Array.isArray(required) ? required.filter((r): r is string => typeof r === 'string') : [],
  };
}

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

/**
 * A template's `{name}` segments are filled from arguments the model can only know of through the
 * input schema: each must be a declared property, and no other brace may remain in the path (it
 * would be sent literally).
 */
export function checkTemplate(
  t: {
    path?: string | undefined;
    method?: string | undefined;
    argsIn?: 'query' | 'body' | undefined;
    query?: string[] | undefined;
    input: Record<string, unknown>;
  },
  ctx: z.RefinementCtx,
): void {
  if (t.method === 'GET' && t.argsIn === 'body')
    ctx.addIssue({ code: 'custom', path: ['argsIn'], message: 'a GET request has no body: "argsIn": "body" is for POST, PUT, PATCH and DELETE' });
  // A name the model is never told of would never be sent: a typo, said at load rather than never noticed.
  for (const [i, name] of (t.query ?? []).entries()) {
    if (!declaredArguments(t.input).declared.includes(name))
      ctx.addIssue({ code: 'custom', path: ['query', i], message: `"${name}" is not a property of the tool's input schema` });
  }
  if (t.path === undefined) return;
  if (/[{}]/.test(t.path.replace(PLACEHOLDER, ''))) {
    ctx.addIssue({ code: 'custom', path: ['path'], message: 'use {name} placeholders of A-Z a-z 0-9 _ only' });
    return;
  }
  const { declared } = declaredArguments(t.input);
  for (const [, name] of t.path.matchAll(PLACEHOLDER)) {
    if (!declared.includes(name!)) ctx.addIssue({ code: 'custom', path: ['path'], message: `{${name}} is not a property of the tool's input schema` });
  }
}

type WriteOptions = {
  readOnly: boolean;
  sensitive?: boolean | undefined;
  ordering?: 'connection' | { key: string } | undefined;
  input: Record<string, unknown>;
};

/**
 * `sensitive` and `ordering` steer how the outbox keeps and sends a write; a read is never queued,
 * so on one they would promise what nothing does. An ordering argument must be required: a call
 * without it would have no value to be ordered by.
 */
export function checkWriteOptions(t: WriteOptions, ctx: z.RefinementCtx): void {
  if (t.readOnly && t.sensitive)
    ctx.addIssue({ code: 'custom', path: ['sensitive'], message: 'a readOnly tool is not queued, so there is nothing of it to seal' });
  if (t.ordering === undefined) return;
  if (t.readOnly) {
    ctx.addIssue({ code: 'custom', path: ['ordering'], message: 'a readOnly tool is not queued, so it cannot be ordered' });
    return;
  }
  if (t.ordering === 'connection') return;
  const { key } = t.ordering;
  const { declared, required } = declaredArguments(t.input);
  if (!declared.includes(key)) ctx.addIssue({ code: 'custom', path: ['ordering', 'key'], message: `"${key}" is not a property of the tool's input schema` });
  else if (!required.includes(key))
    ctx.addIssue({
      code: 'custom',
      path: ['ordering', 'key'],
      message: `"${key}" must be required by the tool's input schema: a call without it has no value to order by`,
    });
}

/** Every check of a tool's fields, for config templates and code definitions alike. */
export function checkTool(t: Parameters<typeof checkTemplate>[0] & WriteOptions, ctx: z.RefinementCtx): void {
  checkTemplate(t, ctx);
  checkWriteOptions(t, ctx);
}

/** Tools declared in config: templates only. */
export const templateToolSchema = z
  .strictObject(toolShape)
  .refine((t) => t.method !== undefined && t.path !== undefined, 'a tool needs "method" and "path"')
  .superRefine(checkTool);

export type TemplateTool = z.infer<typeof templateToolSchema>;
