/**
 * SEP-2243 custom parameter headers (2026-07-28 Streamable HTTP, "Server Behavior for Custom
 * Headers"): a tool may mark top-level-reachable primitive arguments with `x-mcp-header: Name`,
 * clients then mirror each such argument into an `Mcp-Param-Name` header so proxies can route on
 * it, and the server MUST reject a request whose header is missing or disagrees with the body.
 * The SDK checks this only for tools registered on its high-level McpServer; the hub lists tools
 * of many sources through a low-level Server, so the HTTP face checks them here.
 */

import { jsonRpcHttpError } from '../errors.js';

export const HEADER_MISMATCH = -32020;

interface Declaration {
  path: readonly string[];
  header: string;
  type: string;
}

export interface ParamHeaderRejection {
  /** The `Mcp-Param-*` header at fault. */
  header: string;
  message: string;
}

const PRIMITIVE = new Set(['string', 'integer', 'number', 'boolean']);
// Per SEP-2243 values outside visible ASCII travel as `=?base64?<canonical base64>?=`.
const SENTINEL = /^=\?base64\?(.*)\?=$/s;
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

const declared = new WeakMap<object, Declaration[]>();

/** A schema's declarations, walked once per listed schema object (every call of a tool reads them). */
function declarationsOf(schema: unknown): Declaration[] {
  if (typeof schema !== 'object' || schema === null) return [];
  let found = declared.get(schema);
  if (found === undefined) {
    found = declarations(schema);
    declared.set(schema, found);
  }
  return found;
}

/** The declarations reachable through `properties` alone, as the SEP allows no other path. */
function declarations(schema: unknown, path: readonly string[] = []): Declaration[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const out: Declaration[] = [];
  const header = node['x-mcp-header'];
  const type = node['type'];
  if (path.length > 0 && typeof header === 'string' && header !== '' && typeof type === 'string' && PRIMITIVE.has(type)) {
    out.push({ path, header, type });
  }
  const props = node['properties'];
  if (typeof props === 'object' && props !== null) {
    for (const [key, child] of Object.entries(props)) out.push(...declarations(child, [...path, key]));
  }
  return out;
}

function at(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const PLAIN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Visible ASCII travels as is; anything else (edge whitespace, a value shaped like the sentinel) in the SEP's Base64 form. */
function encode(text: string): string {
  return PLAIN.test(text) && !SENTINEL.test(text) ? text : `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/**
 * The `Mcp-Param-*` headers a client sends with a `tools/call` (SEP-2243 client behaviour), for
 * the hub's own calls to a 2026-07-28 downstream: one per declared argument present in the body.
 */
export function paramHeadersFor(inputSchema: unknown, args: unknown): Record<string, string> | undefined {
  let headers: Record<string, string> | undefined;
  for (const decl of declarationsOf(inputSchema)) {
    const body = at(args, decl.path);
    if (body === undefined || body === null || typeof body === 'object') continue;
    headers ??= {};
    headers[`Mcp-Param-${decl.header}`] = encode(String(body));
  }
  return headers;
}

/** The header's value as text, or undefined when it claims Base64 and is not canonical UTF-8 Base64. */
function decode(value: string): string | undefined {
  const b64 = SENTINEL.exec(value)?.[1];
  if (b64 === undefined) return value;
  if (!CANONICAL_BASE64.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

/**
 * Checks a `tools/call`'s `Mcp-Param-*` headers against the tool's input schema and arguments.
 * `header` reads a request header case-insensitively, trimmed (RFC 9110 §5.5).
 */
export function checkParamHeaders(inputSchema: unknown, args: unknown, header: (name: string) => string | undefined): ParamHeaderRejection | undefined {
  for (const decl of declarationsOf(inputSchema)) {
    const name = `Mcp-Param-${decl.header}`;
    const body = at(args, decl.path);
    // An absent or null argument means no header is expected; a stray one is ignored.
    if (body === undefined || body === null || typeof body === 'object') continue;
    const raw = header(name);
    if (raw === undefined) return { header: name, message: `the body carries ${decl.path.join('.')} but the ${name} header is absent` };
    const decoded = decode(raw);
    if (decoded === undefined) return { header: name, message: `the ${name} header carries an invalid Base64 value` };
    const same =
      typeof body === 'number' && (decl.type === 'integer' || decl.type === 'number') && DECIMAL.test(decoded)
        ? Number(decoded) === body
        : decoded === String(body);
    if (!same) return { header: name, message: `the ${name} header disagrees with ${decl.path.join('.')} in the body` };
  }
  return undefined;
}

/**
 * The error answer (400, -32020) for a tools/call whose Mcp-Param-* headers disagree with its
 * arguments, when they do; `inputSchema` is the called tool's as listed (undefined: not a tool
 * this caller can see, nothing to check).
 */
export function paramHeaderMismatch(body: unknown, inputSchemaOf: (tool: string) => unknown, header: (name: string) => string | undefined) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const msg = body as { method?: unknown; id?: unknown; params?: { name?: unknown; arguments?: unknown } };
  if (msg.method !== 'tools/call' || typeof msg.params?.name !== 'string') return undefined;
  const schema = inputSchemaOf(msg.params.name);
  const rejection = schema === undefined ? undefined : checkParamHeaders(schema, msg.params.arguments, header);
  if (!rejection) return undefined;
  const id = typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : null;
  const message = `Bad Request: the request headers and body disagree: ${rejection.message}`;
  return jsonRpcHttpError('header_mismatch', message, { id, data: { mismatch: { header: rejection.header, body: rejection.message } } });
}
