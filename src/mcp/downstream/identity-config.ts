import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillPlaceholders, placeholdersIn, type IdentityPlaceholder } from '../../config/identity-placeholders.js';
import { isStdioServer, type McpServerConfig, type StdioServerConfig } from '../../config/schema.js';
import type { Identity } from '../../identity/identity.js';
import { makeDir } from '../../make-dir.js';

/**
 * The folders stdio servers' processes of one identity are given (`${SWITCHBOARD_USER_DIR}`):
 * `<data dir>/servers/<server>/users/<tenant>/<user>`, and `<…>/<server>/lists` for the process the
 * hub reads a server's lists with, which serves no one's calls. A hub without a data dir (tests,
 * `:memory:`) uses a temporary folder of its own.
 */
export class ServerDirs {
  private root: string | undefined;

  constructor(private readonly dataDir: string | undefined) {}

  /** The folder, made (0700, as the data dir) when it is not there. */
  of(server: string, identity: Identity | undefined): string {
    this.root ??=
      this.dataDir === undefined || this.dataDir === ':memory:' ? mkdtempSync(join(tmpdir(), 'switchboard-servers-')) : join(this.dataDir, 'servers');
    const dir = identity
      ? join(this.root, segment(server), 'users', segment(identity.tenant), segment(identity.user))
      : join(this.root, segment(server), 'lists');
    makeDir(dir, 0o700);
    return dir;
  }
}

/** For a server built without a hub's data dir (tests): a temporary folder, made on first use. */
const defaultDirs = new ServerDirs(undefined);

/**
 * A name as one folder: as it is when it is lower case and not a dot name; otherwise with a
 * short hash of it appended, so `Alice` and `alice` (one folder on a case-insensitive disk, as
 * macOS's by default) and `..` never meet. The hash goes after a `~`, which a name kept as it is
 * never holds: after a `-`, the user `alice-3bc5106297` (a name anyone can compute) was given
 * `Alice`'s folder, and the files in it.
 */
function segment(name: string): string {
  if (/^[a-z0-9_@-][a-z0-9._@-]*$/.test(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.toLowerCase().replace(/^\.+/, '_')}~${hash}`;
}

/** Whether a server's entry holds a placeholder to fill per identity (only a stdio server with `isolation: "user"` may, config/schema.ts). */
export function hasIdentityPlaceholders(config: McpServerConfig): config is StdioServerConfig {
  // An escaped one too (`$${SWITCHBOARD_USER}`): the fill is what unescapes it.
  return isStdioServer(config) && config.isolation === 'user' && stdioTexts(config).some((t) => t.includes('${SWITCHBOARD_USER'));
}

/**
 * A stdio server's entry with its placeholders filled for one identity's process, or for the
 * process that reads its lists (`identity` undefined: no user name, a folder of its own). The
 * folder is made only when the entry names it.
 */
export function configFor(config: McpServerConfig, server: string, identity: Identity | undefined, dirs = defaultDirs): McpServerConfig {
  if (!hasIdentityPlaceholders(config)) return config;
  const wantsDir = stdioTexts(config).some((t) => placeholdersIn(t).includes('SWITCHBOARD_USER_DIR'));
  const values: Record<IdentityPlaceholder, string> = {
    SWITCHBOARD_USER: identity?.user ?? '',
    SWITCHBOARD_USER_DIR: wantsDir ? dirs.of(server, identity) : '',
  };
  const fill = (s: string) => fillPlaceholders(s, values);
  return {
    ...config,
    command: fill(config.command),
    args: config.args.map(fill),
    env: Object.fromEntries(Object.entries(config.env).map(([k, v]) => [k, fill(v)])),
    ...(config.cwd === undefined ? {} : { cwd: fill(config.cwd) }),
  };
}

function stdioTexts(c: StdioServerConfig): string[] {
  return [c.command, ...c.args, ...Object.values(c.env), ...(c.cwd === undefined ? [] : [c.cwd])];
}
