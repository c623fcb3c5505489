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
    // Sentry names a next link on every page and says with `results="false"` that it leads to none.
    if (/;\s*results\s*=\s*"?false"?/i.test(m[2] ?? '')) return undefined;
    if (!URL.canParse(m[1] ?? '', 'http://relative.invalid')) return undefined;
    const params = new URL(m[1] ?? '', 'http://relative.invalid').searchParams;
    const keys = [...new Set(params.keys())];
    if (keys.length === 0) return undefined;
    const props = input?.['properties'];
    const declared = typeof props === 'object' && props !== null ? (props as Record<string, unknown>) : {};
    return Object.fromEntries(keys.map((k) => [k, allAsDeclared(params.getAll(k), declared[k])]));
  }
  return undefined;
}

/**
 * A query argument's values: a list where the input declares one (the hub sends a list as the key
 * repeated, `project=1&project=2`, and the provider's link repeats it so, as Sentry's do), or where
 * the key is repeated (a list, which a tool declaring one value is refused); else the one value.
 */
function allAsDeclared(values: string[], schema: unknown): unknown {
  const s = typeof schema === 'object' && schema !== null ? (schema as { type?: unknown; items?: unknown }) : {};
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('array')) return values.map((v) => asDeclared(v, s.items));
  return values.length > 1 ? values : asDeclared(values[0]!, schema);
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
  if (Array.isArray(v)) return types.includes('array') && v.every((x) => ofDeclaredType(x, (schema as { items?: unknown }).items));
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
  return Object.fromEntries(
    Object.entries(next).filter(([k, v]) => {
      const sent = fixed.getAll(k);
      return Array.isArray(v) ? !(v.length === sent.length && v.every((x, i) => String(x) === sent[i])) : !sent.includes(String(v));
    }),
  );
}
