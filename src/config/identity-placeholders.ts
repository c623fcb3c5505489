/**
 * Placeholders a stdio server with `"isolation": "user"` may write in its `command`, `args`, `env`
 * values and `cwd`, filled for each identity when that identity's process starts: its user name,
 * and a folder of that identity's own for that server (where server-memory's `MEMORY_FILE_PATH`
 * or a SQLite file goes, so two users' processes never share a file). A process per identity
 * separates processes, not the files they write; these let the config separate the files too.
 *
 * They are not environment variables: `${NAME}` interpolation leaves them as written, and a
 * placeholder anywhere else in the config is refused, since nothing would fill it there.
 */
export const IDENTITY_PLACEHOLDERS = ['SWITCHBOARD_USER', 'SWITCHBOARD_USER_DIR'] as const;
export type IdentityPlaceholder = (typeof IDENTITY_PLACEHOLDERS)[number];

export const isIdentityPlaceholder = (name: string): name is IdentityPlaceholder => (IDENTITY_PLACEHOLDERS as readonly string[]).includes(name);

/**
 * `${SWITCHBOARD_USER}` or `${SWITCHBOARD_USER_DIR}`, as written (a `:-default` too: nothing else
 * could fill it), or escaped as `$${…}`, the config's literal `${`: interpolation leaves that one as
 * written too, and it is unescaped where it is used (`fillPlaceholders`, `literalPlaceholders`).
 */
const PLACEHOLDER = /(\$?)\$\{(SWITCHBOARD_USER(?:_DIR)?)(?::-[^}]*)?\}/g;

/** The placeholders a string holds (not the escaped ones). */
export function placeholdersIn(s: string): IdentityPlaceholder[] {
  return [...s.matchAll(PLACEHOLDER)].filter((m) => m[1] === '').map((m) => m[2] as IdentityPlaceholder);
}

/** `s` with each placeholder replaced by its value, and each escaped one as the literal text it spells. */
export function fillPlaceholders(s: string, values: Readonly<Record<IdentityPlaceholder, string>>): string {
  return s.replace(PLACEHOLDER, (whole: string, escaped: string, name: IdentityPlaceholder) => (escaped ? whole.slice(1) : values[name]));
}

/** `s` with each escaped placeholder as the literal text it spells. */
const unescaped = (s: string) => s.replace(PLACEHOLDER, (whole: string, escaped: string) => (escaped ? whole.slice(1) : whole));

/** Where placeholders are filled: the strings of a stdio server's entry that start its process. */
const FILLED = (path: readonly (string | number)[]): boolean =>
  path[0] === 'mcpServers' && path.length >= 3 && (path[2] === 'command' || path[2] === 'cwd' || path[2] === 'args' || path[2] === 'env');

export interface MisplacedPlaceholder {
  path: (string | number)[];
  message: string;
}

/**
 * Every placeholder written where nothing fills it: outside a stdio server's command, args, env
 * and cwd, or in a server whose process serves everyone (`isolation` "shared", the default), which
 * has no one identity to fill it for.
 */
export function misplacedPlaceholders(config: unknown): MisplacedPlaceholder[] {
  const found: MisplacedPlaceholder[] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      const [name] = placeholdersIn(value);
      if (name === undefined) return;
      if (!FILLED(path)) found.push({ path, message: `\${${name}} is filled only in a stdio server's command, args, env and cwd (with "isolation": "user")` });
      else if (!perIdentity(config, String(path[1])))
        found.push({
          path,
          message: `\${${name}} needs "isolation": "user" on this server: a shared process serves every user, so there is no one user to fill it for`,
        });
      return;
    }
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, i]);
    } else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(config, []);
  return found;
}

function perIdentity(config: unknown, server: string): boolean {
  const servers = (config as { mcpServers?: Record<string, { isolation?: unknown; command?: unknown }> }).mcpServers;
  const entry = servers?.[server];
  return entry !== undefined && typeof entry.command === 'string' && entry.isolation === 'user';
}

/**
 * The parsed config with each escaped placeholder (`$${SWITCHBOARD_USER}`) as the literal text it
 * spells, except where a per-identity server's process is started: those are unescaped as they are
 * filled (`fillPlaceholders`), so the literal is never read as a placeholder.
 */
export function literalPlaceholders<T>(config: T): T {
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') return FILLED(path) && perIdentity(config, String(path[1])) ? value : unescaped(value);
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    return value;
  };
  return walk(config, []) as T;
}
