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

/** `${SWITCHBOARD_USER}` or `${SWITCHBOARD_USER_DIR}`, as written (a `:-default` too: nothing else could fill it). */
const PLACEHOLDER = /\$\{(SWITCHBOARD_USER(?:_DIR)?)(?::-[^}]*)?\}/g;

/** The placeholders a string holds. */
export function placeholdersIn(s: string): IdentityPlaceholder[] {
  return [...s.matchAll(PLACEHOLDER)].map((m) => m[1] as IdentityPlaceholder);
}

/** `s` with each placeholder replaced by its value. */
export function fillPlaceholders(s: string, values: Readonly<Record<IdentityPlaceholder, string>>): string {
  return s.replace(PLACEHOLDER, (_whole, name: IdentityPlaceholder) => values[name]);
}

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
