import { ProtocolError, ProtocolErrorCode, fromJsonSchema } from '@modelcontextprotocol/server';
import { OPENING } from '../definition/json-schema-shape.js';

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The schema with every object that declares its properties closed (`additionalProperties: false`)
 * unless it says otherwise. An argument the tool did not declare would otherwise flow into the
 * query or body as is (mass assignment; a second `status=` next to the template's own).
 * Combinators and references are left alone: a branch cannot know the properties of its siblings.
 */
export function closeSchema(schema: Schema): Schema {
  const out: Schema = { ...schema };
  const props = schema['properties'];
  if (isSchema(props)) {
    out['properties'] = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, isSchema(v) ? closeSchema(v) : v]));
    if (!OPENING.some((k) => k in schema)) out['additionalProperties'] = false;
  } else if (schema['type'] === 'object' && !OPENING.some((k) => k in schema)) {
    out['additionalProperties'] = false;
  }
  const items = schema['items'];
  if (isSchema(items)) out['items'] = closeSchema(items);
  return out;
}

/** Arguments outside a closed object, as dotted paths (`filter.status`), so the refusal names them. */
function undeclared(schema: Schema, value: unknown, at: string): string[] {
  if (Array.isArray(value)) {
    const items = schema['items'];
    return isSchema(items) ? value.flatMap((v, i) => undeclared(items, v, `${at}[${i}]`)) : [];
  }
  if (!isSchema(value)) return [];
  const props = isSchema(schema['properties']) ? schema['properties'] : {};
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const path = at ? `${at}.${k}` : k;
    const child = props[k];
    if (child === undefined && schema['additionalProperties'] === false) out.push(path);
    else if (isSchema(child)) out.push(...undeclared(child, v, path));
  }
  return out;
}

export type InputValidator = (args: Record<string, unknown>) => void;

/**
 * One check of tool arguments against the tool's JSON Schema, before any request is made: shared by
 * integration tools and agents. Uses the SDK's own JSON Schema validator (`fromJsonSchema`, ajv on
 * Node) rather than a second copy. A refusal is JSON-RPC -32602 InvalidParams naming the argument,
 * as the MCP spec asks for invalid tool arguments (server/tools, "Error Handling").
 */
export function inputValidator(toolName: string, inputSchema: Schema): InputValidator {
  const closed = closeSchema({ type: 'object', ...inputSchema });
  // Compiled on the first call: ajv's compile of a schema costs milliseconds, and a hub builds one
  // validator per tool while it starts (agents, every integration's recent_events), before the
  // stdio face can give its first tools/list.
  let compiled: ReturnType<typeof fromJsonSchema>['~standard'] | undefined;
  return (args) => {
    compiled ??= fromJsonSchema(closed)['~standard'];
    const check = compiled;
    const extra = undeclared(closed, args, '');
    if (extra.length > 0) {
      const names = extra.map((k) => JSON.stringify(k)).join(', ');
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `invalid arguments for ${toolName}: unknown argument${extra.length > 1 ? 's' : ''} ${names} (not in the tool's input schema)`,
        {
          arguments: extra,
        },
      );
    }
    const r = check.validate(args);
    if (r instanceof Promise) throw new Error('the JSON Schema validator answered asynchronously');
    if (r.issues) {
      const problem = r.issues.map((i) => i.message).join('; ');
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid arguments for ${toolName}: ${problem}`);
    }
  };
}
