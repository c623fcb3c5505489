import { z } from 'zod';

/**
 * Where a value is read from in a provider's message: a header, a field of the JSON body, or a
 * query parameter of the request URL. Written in config as `header:webhook-id`,
 * `body:data.event_id` or `query:account`, parsed once here so readers never split strings.
 */
export type Selector = { in: 'header'; name: string } | { in: 'query'; name: string } | { in: 'body'; path: string[] };

// RFC 9110 §5.1: a field name is a token (tchar). Node lowercases incoming header names, and
// field names are case-insensitive, so the parsed name is lowercased once here.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const QUERY_NAME = /^[A-Za-z0-9._~-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9_$-]+$/;
// Reading these off a parsed JSON body would walk into Object.prototype, not the provider's data.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** Why a dotted path is not usable, or undefined when it is. */
function pathProblem(path: string): string | undefined {
  const segments = path.split('.');
  for (const s of segments) {
    if (s === '') return 'a dotted path has no empty segments';
    if (!PATH_SEGMENT.test(s)) return `"${s}" is not a path segment (use A-Z a-z 0-9 _ $ -)`;
    if (FORBIDDEN_SEGMENTS.has(s)) return `"${s}" is not allowed in a path`;
  }
  return undefined;
}

/** The value at a dotted path's segments in parsed JSON (array indexes are segments too); own properties only. */
export function jsonAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A dotted path into a JSON value (`events`, `data.event_id`, `items.0.id`), as its segments. */
export const jsonPathSchema = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    const why = pathProblem(s);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  })
  .transform((s) => s.split('.'));

const SELECTOR_HELP = 'use header:NAME, body:dotted.path or query:NAME';

/** Parses `header:NAME | body:dotted.path | query:NAME`; the message says what is wrong. */
export function parseSelector(text: string): Selector | string {
  const colon = text.indexOf(':');
  if (colon < 0) return SELECTOR_HELP;
  const kind = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (rest === '') return `nothing after "${kind}:" (${SELECTOR_HELP})`;
  switch (kind) {
    case 'header':
      return HEADER_NAME.test(rest) ? { in: 'header', name: rest.toLowerCase() } : `"${rest}" is not a header name`;
    case 'query':
      return QUERY_NAME.test(rest) ? { in: 'query', name: rest } : `"${rest}" is not a query parameter name`;
    case 'body': {
      const why = pathProblem(rest);
      return why ?? { in: 'body', path: rest.split('.') };
    }
    default:
      return `"${kind}" is not a place to read from (${SELECTOR_HELP})`;
  }
}

export const selectorSchema = z.string().transform((s, ctx): Selector => {
  const parsed = parseSelector(s);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/** The written form of a selector, for messages and for showing a parsed config. */
export function selectorText(s: Selector): string {
  return s.in === 'body' ? `body:${s.path.join('.')}` : `${s.in}:${s.name}`;
}
