import { HubError } from '../errors.js';
import { isIdentityPlaceholder } from './identity-placeholders.js';

/** A `${NAME}` without default whose variable is unset, and where it was. */
interface Unset {
  path: string;
  variable: string;
  /** Set, but to "" (`export T=`): said so, since `env` shows it and "not set" would be a puzzle. */
  empty: boolean;
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed JSON tree.
 * `$${` stays a literal `${`. An unset variable without a default is an error naming the key path,
 * so a missing secret fails at start-up rather than as an empty header later; every unset one is
 * named in that one error, so a user sets them all in one go rather than one per start.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, file: string): unknown {
  const unset: Unset[] = [];
  const put: string[] = [];
  const out = walk(value, env, [], { unset, put });
  const [first, ...more] = unset;
  if (first === undefined) {
    for (const v of put) substituted.add(v);
    return out;
  }
  const where = (u: Unset) =>
    `${u.path || '(root)'}: environment variable ${u.variable} is ${u.empty ? `empty (set it to a value, or write \${${u.variable}:-default})` : 'not set'}`;
  throw new HubError('config_invalid', `${file}: ${[first, ...more].map(where).join('; ')}`, {
    details: { file, path: first.path, variable: first.variable, ...(more.length > 0 ? { unset: [...new Set(unset.map((u) => u.variable))] } : {}) },
  });
}

/**
 * Every value a `${NAME}` (or its default) put into a config this process loaded: the operator's
 * way of keeping keys out of the file, so a downstream server's stderr or error page that quotes
 * one is scrubbed before a caller, /readyz or the log sees it (`substitutedIn`). Never logged.
 * It only grows, by the distinct values of the environment and the defaults written in configs.
 */
const substituted = new Set<string>();

/** The values interpolation substituted that occur in any of `texts` (a server's entry: its args, env, url, headers). */
export function substitutedIn(texts: readonly string[]): string[] {
  return [...substituted].filter((v) => texts.some((t) => t.includes(v)));
}

/** What a walk collects: the variables unset, and the values put in. */
interface Found {
  unset: Unset[];
  put: string[];
}

function walk(value: unknown, env: NodeJS.ProcessEnv, path: string[], found: Found): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path, found);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, env, [...path, String(i)], found));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, env, [...path, k], found);
    return out;
  }
  return value;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * A `${NAME}` or `${NAME:-default}` starting at `at` (the `$`): the name, the default as written,
 * and where the reference ends. The default runs to the `}` that closes this reference, so one
 * nested in it (`${A:-${B}}`, as a shell and Compose read it) is read whole: cut at its first
 * `}`, a set A came out as its value with a stray `}` after it, and an unset one as the text `${B}`.
 */
function referenceAt(s: string, at: number): { name: string; fallback: string | undefined; end: number } | undefined {
  const name = NAME.exec(s.slice(at + 2))?.[0];
  if (name === undefined) return undefined;
  let i = at + 2 + name.length;
  if (s[i] === '}') return { name, fallback: undefined, end: i + 1 };
  if (!s.startsWith(':-', i)) return undefined;
  const from = i + 2;
  let depth = 0;
  for (i = from; i < s.length; i++) {
    if (s.startsWith('${', i)) {
      depth++;
      i++;
    } else if (s[i] === '}') {
      if (depth === 0) return { name, fallback: s.slice(from, i), end: i + 1 };
      depth--;
    }
  }
  return undefined;
}

function interpolateString(s: string, env: NodeJS.ProcessEnv, path: string[], found: Found): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const escaped = s.startsWith('$${', i);
    const at = escaped ? i + 1 : i;
    const ref = escaped || s.startsWith('${', i) ? referenceAt(s, at) : undefined;
    if (ref === undefined) {
      // `$${` is a literal `${` whatever follows (`$${#ARR[@]}` for a shell): not only before a name.
      out += escaped ? '${' : s[i];
      i += escaped ? 3 : 1;
      continue;
    }
    const whole = s.slice(i, ref.end);
    i = ref.end;
    // Filled per identity when a server's process starts (identity-placeholders.ts), never from the
    // environment; escaped, kept so until then too, so the literal is not read as one.
    if (isIdentityPlaceholder(ref.name)) out += whole;
    else if (escaped) out += whole.slice(1);
    else out += filled(ref.name, ref.fallback, env, path, found);
  }
  return out;
}

function filled(name: string, fallback: string | undefined, env: NodeJS.ProcessEnv, path: string[], found: Found): string {
  const v = env[name];
  if (v !== undefined && v !== '') {
    found.put.push(v);
    return v;
  }
  if (fallback === undefined) {
    found.unset.push({ path: path.join('.'), variable: name, empty: v === '' });
    return '';
  }
  // The default is read as any string is: a reference in it is filled, and unset is said so.
  const value = interpolateString(fallback, env, path, found);
  if (value !== '') found.put.push(value);
  return value;
}
