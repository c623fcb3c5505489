/**
 * The small languages of an `http` agent's request definition (src/definition/agents.ts): JSON
 * paths that pick values out of a response, and `{{…}}` placeholders that put the call's values
 * into the URL and the body. Deliberately small, so a definition is checked whole at start-up:
 *
 * - A path is `$` (the whole value), `$.a.b`, `a.b`, `items[0].name` or `$['odd key']`: one value
 *   or none. Not JSONPath (no wildcards, filters or slices): a mapping names one field.
 * - A placeholder is `{{input}}` (all the tool's arguments), `{{input.<path>}}` (one of them, the
 *   path as above without `$`), `{{sessionId}}` (the caller's opaque session identity) or
 *   `{{callId}}` (the hub's id of the tool call). Spaces inside the braces are allowed.
 */

export type PathStep = string | number;

const STEP = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]|^([A-Za-z_][\w$-]*)/g;

/** The steps of a path, or undefined when it is not one. */
export function parsePath(path: string): PathStep[] | undefined {
  const body = path.replace(/^\$/, '');
  const steps: PathStep[] = [];
  let at = 0;
  for (const m of body.matchAll(STEP)) {
    if (m.index !== at) return undefined;
    at = m.index + m[0].length;
    steps.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3] ?? m[4] ?? m[5])!);
  }
  return at === body.length ? steps : undefined;
}

export function walk(value: unknown, steps: readonly PathStep[]): unknown {
  let cur = value;
  for (const s of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    // Own properties only: a path must not reach `__proto__` or `constructor` of a parsed body.
    if (!Object.hasOwn(cur, s)) return undefined;
    cur = (cur as Record<PathStep, unknown>)[s];
  }
  return cur;
}

/** The value at a path, undefined when the path is malformed or leads nowhere. */
export function readPath(value: unknown, path: string): unknown {
  const steps = parsePath(path);
  return steps === undefined ? undefined : walk(value, steps);
}

/** What a placeholder may name. */
export interface TemplateVars {
  input: Record<string, unknown>;
  sessionId: string;
  callId: string;
}

type Placeholder = { name: 'sessionId' | 'callId' } | { name: 'input'; steps: PathStep[] };

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;

function parsePlaceholder(inner: string): Placeholder | undefined {
  if (inner === 'sessionId' || inner === 'callId') return { name: inner };
  if (!inner.startsWith('input')) return undefined;
  const rest = inner.slice('input'.length);
  if (rest === '') return { name: 'input', steps: [] };
  // `input.city` → `.city`; `input[0]` is a path too, but the arguments are an object.
  const steps = rest.startsWith('.') || rest.startsWith('[') ? parsePath(`$${rest}`) : undefined;
  return steps && { name: 'input', steps };
}

function lookup(p: Placeholder, v: TemplateVars): unknown {
  return p.name === 'input' ? walk(v.input, p.steps) : v[p.name];
}

const textOf = (x: unknown): string => (x === undefined ? '' : typeof x === 'string' ? x : JSON.stringify(x));

/** Each malformed placeholder in a template value, with where it is (for config errors). */
export function placeholderProblems(value: unknown, at: PathStep[] = []): Array<{ path: PathStep[]; message: string }> {
  if (typeof value === 'string') {
    return [...value.matchAll(PLACEHOLDER)]
      .filter((m) => parsePlaceholder(m[1]!) === undefined)
      .map((m) => ({ path: at, message: `unknown placeholder ${m[0]}: use {{input}}, {{input.<field>}}, {{sessionId}} or {{callId}}` }));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => placeholderProblems(v, [...at, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => placeholderProblems(v, [...at, k]));
  return [];
}

/**
 * Each placeholder naming an argument the tool never takes (`{{input.city}}` when the arguments
 * are `fields` and `city` is not one), with where it is: such a placeholder is always empty.
 */
export function unfillablePlaceholders(value: unknown, fields: ReadonlySet<string>, at: PathStep[] = []): Array<{ path: PathStep[]; message: string }> {
  if (typeof value === 'string') {
    return [...value.matchAll(PLACEHOLDER)].flatMap((m) => {
      const p = parsePlaceholder(m[1]!);
      const first = p?.name === 'input' ? p.steps[0] : undefined;
      if (typeof first !== 'string' || fields.has(first)) return [];
      const takes = [...fields].join(', ') || 'none';
      return [
        { path: at, message: `${m[0]} names the argument "${first}", which the tool does not take (its arguments: ${takes}); declare it in inputSchema` },
      ];
    });
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => unfillablePlaceholders(v, fields, [...at, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => unfillablePlaceholders(v, fields, [...at, k]));
  return [];
}

/**
 * A body template filled in. A string that is one placeholder and nothing else becomes the value
 * itself, its JSON type kept (a number stays a number, an object an object); when the value is
 * absent (an optional argument not given) the object key is left out, an array item becomes null.
 * A placeholder inside longer text becomes the value's text (strings as they are, others as JSON,
 * absent as nothing).
 */
export function renderBody(template: unknown, v: TemplateVars): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    const p = whole ? parsePlaceholder(whole[1]!) : undefined;
    if (p) return lookup(p, v);
    return template.replace(PLACEHOLDER, (m, inner: string) => {
      const q = parsePlaceholder(inner);
      return q ? textOf(lookup(q, v)) : m;
    });
  }
  if (Array.isArray(template)) return template.map((x) => renderBody(x, v) ?? null);
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(template)) {
      const r = renderBody(x, v);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return template;
}

/** Where the first placeholder of a URL template is, or the template's length when it has none. */
export function firstPlaceholderAt(template: string): number {
  const m = /\{\{/.exec(template);
  return m ? m.index : template.length;
}

/**
 * A URL template filled in: each value percent-encoded as one component (RFC 3986 §2.1), so a
 * value cannot add a path segment, a query parameter or a fragment. A value that is `.` or `..`
 * would still be a dot-segment (§5.2.4, encoded or not) and is refused.
 */
export function renderUrl(template: string, v: TemplateVars): string {
  return fillUrl(withoutAbsentParams(template, v), v);
}

/**
 * The template without the query parameters whose value is one placeholder of an absent value (an
 * optional argument not given): left out, as such a key is left out of the body, rather than sent
 * empty (`?units=`), which an API may read as a value it refuses.
 */
function withoutAbsentParams(template: string, v: TemplateVars): string {
  const q = template.indexOf('?');
  if (q < 0) return template;
  const hash = template.indexOf('#', q);
  const end = hash < 0 ? template.length : hash;
  const kept = template
    .slice(q + 1, end)
    .split('&')
    .filter((pair) => {
      const value = pair.slice(pair.indexOf('=') + 1);
      const whole = pair.includes('=') ? WHOLE.exec(value) : null;
      const p = whole ? parsePlaceholder(whole[1]!) : undefined;
      return p === undefined || lookup(p, v) !== undefined;
    });
  return `${template.slice(0, q)}${kept.length > 0 ? `?${kept.join('&')}` : ''}${template.slice(end)}`;
}

function fillUrl(template: string, v: TemplateVars): string {
  return template.replace(PLACEHOLDER, (m, inner: string) => {
    const p = parsePlaceholder(inner);
    if (!p) return m;
    const text = textOf(lookup(p, v));
    if (text === '.' || text === '..') throw new RangeError(`${m} is "${text}", which cannot be part of a URL`);
    return encodeURIComponent(text);
  });
}
