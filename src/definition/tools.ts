import { z } from 'zod';

const jsonSchemaObject = z
  .record(z.string(), z.unknown())
  .refine((s) => s['type'] === undefined || s['type'] === 'object', 'a tool input schema must be of type "object"');

/** The fields of a tool, whether declared in config (a template) or in code (which may add a handler). */
export const toolShape = {
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
export function checkTemplate(t: { path?: string | undefined; input: Record<string, unknown> }, ctx: z.RefinementCtx): void {
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

export type TemplateTool = z.infer<typeof templateToolSchema>;
