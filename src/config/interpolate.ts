import { HubError } from '../errors.js';

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed JSON tree.
 * `$${` stays a literal `${`. An unset variable without a default is an error naming the key path,
 * so a missing secret fails at start-up rather than as an empty header later.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, path: string[] = []): unknown {
  if (typeof value === 'string') return interpolateString(value, env, file, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, file, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, file, [...path, k]);
    return out;
  }
  return value;
}

const PATTERN = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolateString(s: string, env: NodeJS.ProcessEnv, file: string, path: string[]): string {
  return s.replace(PATTERN, (whole, escaped: string, name: string, fallback: string | undefined) => {
    if (escaped) return whole.slice(1);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new HubError('config_invalid', `${file}: ${path.join('.') || '(root)'}: environment variable ${name} is not set`, {
      details: { file, path: path.join('.'), variable: name },
    });
  });
}
