/**
 * A quick check of a JSON Schema's shape, with the config: the mistakes that make a validator refuse
 * to compile it (an unknown `type`, a `$ref` to another document or to nothing in this one, a
 * keyword holding the wrong kind of value). A tool's schema is published in tools/list, and an SDK client compiles every schema it
 * lists there: one it cannot compile makes the whole list fail for it, every other tool with it.
 * The full compile (ajv) stays lazy, as for every tool (src/mcp/validate-input.ts): loading ajv at
 * start-up would cost the stdio face's first answer ~20 ms.
 */

/** Keywords through which a schema lets more properties in; a node with any of them is left open (src/mcp/validate-input.ts). */
export const OPENING = ['additionalProperties', 'patternProperties', 'unevaluatedProperties', 'allOf', 'anyOf', 'oneOf', '$ref', 'if', 'dependentSchemas'];

/**
 * The arguments an object schema takes when it is closed (its `properties`, with none of OPENING),
 * undefined when it takes others too.
 */
export function closedProperties(schema: Record<string, unknown>): Set<string> | undefined {
  const props = schema['properties'];
  if (OPENING.some((k) => k in schema)) return undefined;
  return new Set(typeof props === 'object' && props !== null && !Array.isArray(props) ? Object.keys(props) : []);
}

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
/** Keywords whose value is one schema. */
const ONE = [
  'items',
  'additionalProperties',
  'additionalItems',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
];
/** Keywords whose value is a list of schemas. */
const LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
/** Keywords whose value maps names to schemas. */
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const NUMBERS = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What is wrong with `schema`, each naming where (`properties.a.type`); empty when nothing is. */
export function jsonSchemaProblems(schema: unknown): string[] {
  return problemsAt(schema, '', schema);
}

/** `schema`'s problems, found at `at`; its local references resolve against `base`, the root or the enclosing `$id`'s schema. */
function problemsAt(schema: unknown, at: string, base: unknown): string[] {
  const where = (key: string) => (at ? `${at}.${key}` : key);
  if (typeof schema === 'boolean') return [];
  if (!isObject(schema)) return [`${at || 'the schema'}: must be a JSON Schema (an object)`];
  // A nested `$id` other than a fragment starts a resource of its own: `#…` inside it is resolved from it.
  const id = schema['$id'];
  const here = at !== '' && typeof id === 'string' && !id.startsWith('#') ? schema : base;
  const out: string[] = [];
  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (types.length === 0 || types.some((t) => typeof t !== 'string' || !TYPES.has(t)))
      out.push(`${where('type')}: ${JSON.stringify(type)} is not a JSON type (${[...TYPES].join(', ')})`);
  }
  const ref = schema['$ref'];
  if (ref !== undefined && (typeof ref !== 'string' || !ref.startsWith('#')))
    out.push(`${where('$ref')}: only references inside the schema (#/...) can be resolved; ${JSON.stringify(ref)} cannot`);
  else if (typeof ref === 'string' && resolveLocal(here, ref.slice(1)) === undefined)
    out.push(`${where('$ref')}: ${JSON.stringify(ref)} points to no schema in this one (is the definition it names missing or misspelt?)`);
  const required = schema['required'];
  if (required !== undefined && (!Array.isArray(required) || required.some((r) => typeof r !== 'string')))
    out.push(`${where('required')}: must be a list of property names`);
  const en = schema['enum'];
  if (en !== undefined && !Array.isArray(en)) out.push(`${where('enum')}: must be a list of values`);
  for (const k of NUMBERS) if (schema[k] !== undefined && typeof schema[k] !== 'number') out.push(`${where(k)}: must be a number`);
  const pattern = schema['pattern'];
  if (pattern !== undefined && (typeof pattern !== 'string' || !compiles(pattern))) out.push(`${where('pattern')}: is not a regular expression`);
  for (const k of ONE) if (schema[k] !== undefined) out.push(...problemsAt(schema[k], where(k), here));
  for (const k of LIST) {
    const v = schema[k];
    if (v === undefined) continue;
    if (!Array.isArray(v)) out.push(`${where(k)}: must be a list of schemas`);
    else for (const [i, item] of v.entries()) out.push(...problemsAt(item, `${where(k)}[${i}]`, here));
  }
  for (const k of MAP) {
    const v = schema[k];
    if (v === undefined) continue;
    if (!isObject(v)) out.push(`${where(k)}: must map names to schemas`);
    else for (const [name, s] of Object.entries(v)) out.push(...problemsAt(s, `${where(k)}.${name}`, here));
  }
  return out;
}

/**
 * The schema a local reference's fragment names in `base`, undefined when it names none: a JSON
 * pointer (RFC 6901, `~1` for `/` and `~0` for `~`, after the URI fragment's percent-decoding, RFC
 * 3986 §3.5), or a plain name declared by an `$anchor` (or a draft-07 `$id: "#name"`).
 */
function resolveLocal(base: unknown, fragment: string): unknown {
  let name: string;
  try {
    name = decodeURIComponent(fragment);
  } catch {
    return undefined;
  }
  if (name !== '' && !name.startsWith('/')) return anchored(base, name);
  let node = base;
  for (const token of name.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(key) ? node[Number(key)] : undefined;
    else node = isObject(node) && Object.hasOwn(node, key) ? node[key] : undefined;
    if (node === undefined) return undefined;
  }
  return isObject(node) || typeof node === 'boolean' ? node : undefined;
}

/** The subschema of `node` that declares the anchor `name`. */
function anchored(node: unknown, name: string): unknown {
  if (Array.isArray(node)) return node.map((n) => anchored(n, name)).find((n) => n !== undefined);
  if (!isObject(node)) return undefined;
  if (node['$anchor'] === name || node['$id'] === `#${name}`) return node;
  return Object.values(node)
    .map((n) => anchored(n, name))
    .find((n) => n !== undefined);
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}
