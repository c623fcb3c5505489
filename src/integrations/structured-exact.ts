import { plainExact, scalarText } from '../definition/exact-json.js';

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A JSON answer read by parseExact as a tool's structuredContent, in the shape the tool's listed
 * output schema asks for. A long integer (past 2^53) is the string of its digits (plainExact), as
 * a number would be rounded on the way out; but where the schema declares a number or an integer
 * there and no string, it is that number, rounded as a direct client of the API would read it: MCP
 * requires structuredContent to conform to the outputSchema, and the SDK clients refuse a result
 * that does not. The text content keeps the digits either way.
 */
export function structuredExact(parsed: unknown, schema: Schema | undefined): unknown {
  const plain = plainExact(parsed);
  // plainExact hands back the value itself when it holds no long integer: nothing to fit.
  if (schema === undefined || plain === parsed) return plain;
  return fitted(parsed, [schema], schema);
}

/** A long integer as parseExact holds it: the only strings whose exact text differs from themselves. */
function digitsOf(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const text = scalarText(v);
  return text === v ? undefined : text;
}

/** `v` with its long integers as numbers where `schemas` (all that apply at this place) want one. */
function fitted(v: unknown, schemas: Schema[], root: Schema): unknown {
  const digits = digitsOf(v);
  if (digits !== undefined) return wantsNumber(schemas, root) ? Number(digits) : digits;
  if (Array.isArray(v)) return v.map((x, i) => fitted(x, itemSchemas(schemas, i, root), root));
  if (isSchema(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fitted(x, propertySchemas(schemas, k, root), root)]));
  return v;
}

function wantsNumber(schemas: Schema[], root: Schema): boolean {
  const types = flatten(schemas, root).flatMap((s) => (Array.isArray(s['type']) ? s['type'] : [s['type']]));
  return (types.includes('integer') || types.includes('number')) && !types.includes('string');
}

/** The schemas that apply to property `key` of an object that `schemas` apply to. */
function propertySchemas(schemas: Schema[], key: string, root: Schema): Schema[] {
  const out: Schema[] = [];
  for (const s of flatten(schemas, root)) {
    const named = isSchema(s['properties']) ? s['properties'][key] : undefined;
    const patterns = isSchema(s['patternProperties'])
      ? Object.entries(s['patternProperties'])
          .filter(([p]) => matches(p, key))
          .map(([, sub]) => sub)
      : [];
    // JSON Schema 2020-12 §10.3.2.3: additionalProperties covers only what the other two do not.
    const matched = [named, ...patterns].filter(isSchema);
    out.push(...(named === undefined && patterns.length === 0 && isSchema(s['additionalProperties']) ? [s['additionalProperties']] : matched));
  }
  return out;
}

/** The schemas that apply to item `i` of an array that `schemas` apply to (2020-12 prefixItems, draft-07 tuples too). */
function itemSchemas(schemas: Schema[], i: number, root: Schema): Schema[] {
  const out: Schema[] = [];
  for (const s of flatten(schemas, root)) {
    const prefix = Array.isArray(s['prefixItems']) ? s['prefixItems'] : Array.isArray(s['items']) ? s['items'] : undefined;
    const rest = Array.isArray(s['items']) ? s['additionalItems'] : s['items'];
    const sub: unknown = prefix !== undefined && i < prefix.length ? prefix[i] : rest;
    if (isSchema(sub)) out.push(sub);
  }
  return out;
}

/** The schemas with those they reference or combine, each once (a reference loop ends). */
function flatten(schemas: Schema[], root: Schema): Schema[] {
  const seen = new Set<Schema>();
  const visit = (s: unknown): void => {
    if (!isSchema(s) || seen.has(s)) return;
    seen.add(s);
    if (typeof s['$ref'] === 'string') visit(resolve(root, s['$ref']));
    for (const k of ['allOf', 'anyOf', 'oneOf']) if (Array.isArray(s[k])) for (const sub of s[k]) visit(sub);
    for (const k of ['then', 'else']) visit(s[k]);
  };
  for (const s of schemas) visit(s);
  return [...seen];
}

/** A reference inside the schema (`#/$defs/id`, RFC 6901 pointer); the config refuses any other (json-schema-shape.ts). */
function resolve(root: Schema, ref: string): unknown {
  if (!ref.startsWith('#/') && ref !== '#') return undefined;
  let node: unknown = root;
  for (const token of ref === '#' ? [] : ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    node = Array.isArray(node) ? node[Number(key)] : isSchema(node) && Object.hasOwn(node, key) ? node[key] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function matches(pattern: string, key: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(key);
  } catch {
    return false;
  }
}
