import { closedProperties } from '../definition/json-schema-shape.js';

/**
 * The query of a response's `rel="next"` link (RFC 8288 `Link` header), as GitHub, GitLab and
 * others page their lists: `<https://api.github.com/…/issues?page=2&per_page=30>; rel="next", <…>; rel="last"`.
 * Only the query is read (what a tool's arguments can say); the link itself is never followed.
 */
export function nextPageQuery(link: string | null, input?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!link) return undefined;
  for (const m of link.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2] ?? '');
    if (!(rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).includes('next')) continue;
    if (!URL.canParse(m[1] ?? '', 'http://relative.invalid')) return undefined;
    const query = Object.fromEntries(new URL(m[1] ?? '', 'http://relative.invalid').searchParams);
    if (Object.keys(query).length === 0) return undefined;
    const props = input?.['properties'];
    const declared = typeof props === 'object' && props !== null ? (props as Record<string, unknown>) : {};
    return Object.fromEntries(Object.entries(query).map(([k, v]) => [k, asDeclared(v, declared[k])]));
  }
  return undefined;
}

/**
 * A query value in the type the tool's input schema declares for that argument, so that calling
 * again with it validates: GitHub documents `page` and `per_page` as integers, and a query has
 * strings only. A value that does not read as the declared type stays the string it was.
 */
function asDeclared(value: string, schema: unknown): unknown {
  const type = typeof schema === 'object' && schema !== null ? (schema as { type?: unknown }).type : undefined;
  const types = Array.isArray(type) ? type : [type];
  if (types.includes('string')) return value;
  if (types.includes('integer') && /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  if (types.includes('number') && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/**
 * The arguments of a next page (nextPageQuery's) that the tool's input would refuse: undeclared in
 * a closed schema (src/mcp/validate-input.ts refuses those, -32602), or not of the type declared for
 * them. Empty when calling again with them is served.
 */
export function refusedArguments(next: Record<string, unknown>, input: Record<string, unknown>): string[] {
  // `additionalProperties: false` closes the schema as much as leaving it out does (the input is
  // closed either way: validate-input.ts); closedProperties counts any value of it as opening.
  const { additionalProperties, ...rest } = input;
  const taken = additionalProperties === false ? closedProperties({ type: 'object', ...rest }) : closedProperties({ type: 'object', ...input });
  const props = input['properties'];
  const declared = typeof props === 'object' && props !== null ? (props as Record<string, unknown>) : {};
  return Object.entries(next)
    .filter(([k, v]) => (taken !== undefined && !taken.has(k)) || !ofDeclaredType(v, declared[k]))
    .map(([k]) => k);
}

function ofDeclaredType(v: unknown, schema: unknown): boolean {
  const type = typeof schema === 'object' && schema !== null ? (schema as { type?: unknown }).type : undefined;
  if (type === undefined) return true;
  const types = Array.isArray(type) ? type : [type];
  if (typeof v === 'string') return types.includes('string');
  if (typeof v === 'boolean') return types.includes('boolean');
  return typeof v === 'number' && (types.includes('number') || (types.includes('integer') && Number.isInteger(v)));
}

/**
 * The next page's arguments without those the tool's path template sends itself with the same
 * value (`/issues?state=all` has GitHub repeat `state=all` in its link): each call sends them anyway.
 */
export function withoutFixedQuery(next: Record<string, unknown>, path: string): Record<string, unknown> {
  const at = path.indexOf('?');
  if (at < 0) return next;
  const fixed = new URLSearchParams(path.slice(at + 1));
  return Object.fromEntries(Object.entries(next).filter(([k, v]) => !fixed.getAll(k).includes(String(v))));
}
