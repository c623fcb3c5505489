import { HubError } from '../errors.js';

/** A `${NAME}` without default whose variable is unset, and where it was. */
interface Unset {
  path: string;
  variable: string;
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed JSON tree.
 * `$${` stays a literal `${`. An unset variable without a default is an error naming the key path,
 * so a missing secret fails at start-up rather than as an empty header later; every unset one is
 * named in that one error, so a user sets them all in one go rather than one per start.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, file: string): unknown {
  const unset: Unset[] = [];
  const out = walk(value, env, [], unset);
  const [first, ...more] = unset;
  if (first === undefined) return out;
  const where = (u: Unset) => `${u.path || '(root)'}: environment variable ${u.variable} is not set`;
  throw new HubError('config_invalid', `${file}: ${[first, ...more].map(where).join('; ')}`, {
    details: { file, path: first.path, variable: first.variable, ...(more.length > 0 ? { unset: [...new Set(unset.map((u) => u.variable))] } : {}) },
  });
}

function walk(value: unknown, env: NodeJS.ProcessEnv, path: string[], unset: Unset[]): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path, unset);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, env, [...path, String(i)], unset));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, env, [...path, k], unset);
    return out;
  }
  return value;
}

const PATTERN = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolateString(s: string, env: NodeJS.ProcessEnv, path: string[], unset: Unset[]): string {
  return s.replace(PATTERN, (whole, escaped: string, name: string, fallback: string | undefined) => {
    if (escaped) return whole.slice(1);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    unset.push({ path: path.join('.'), variable: name });
    return '';
  });
}
