import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { STORE_FILE } from '../config/data-dir.js';
import type { HubConfig } from '../config/schema.js';
import { HubError } from '../errors.js';
import { storeChoice } from './choice.js';

/** Where the data dir's SQLite store is, or undefined when the config names PostgreSQL (which always exists once reachable). */
export function sqliteStoreFile(config: Pick<HubConfig, 'store' | 'dataDir'>): string | undefined {
  return storeChoice(config).kind === 'sqlite' ? resolve(config.dataDir, STORE_FILE) : undefined;
}

/**
 * Refuses, creating nothing, a data dir that holds no store yet: for a command that only reads or
 * removes records. Such a command used to make the folder, a new database and a master key
 * wherever `--data` pointed, so a mistyped path printed "no tokens" and left a second store
 * behind. The commands that make records (`serve`, `stdio`, `tokens create`, `users invite`,
 * `connect`) still create the store.
 */
export function requireExistingStore(config: Pick<HubConfig, 'store' | 'dataDir'>): void {
  const file = sqliteStoreFile(config);
  if (file === undefined) return;
  const problem = whyUnreadable(file);
  if (problem === undefined) return;
  if (problem === 'missing')
    throw new HubError(
      'store_not_found',
      `no hub data in ${config.dataDir}: ${STORE_FILE} is not there (a hub makes it when it first starts, and so do \`tokens create\` and \`users invite\`); check --data or dataDir`,
      { details: { dataDir: config.dataDir } },
    );
  throw new HubError('store_failed', `cannot open the hub data in ${config.dataDir}: ${file} ${problem}; check --data or dataDir`, {
    details: { dataDir: config.dataDir },
  });
}

/**
 * requireExistingStore on PostgreSQL: refuses a database no hub has migrated (a new one, the
 * server's default `postgres` after a mistyped name) before anything is made in it, where a
 * reading command applied the whole schema there and printed "no tokens". Its migrations alone
 * tell: a hub's database has at least the first.
 */
export async function requireExistingPgStore(store: { readonly pg: { readonly safeUrl: string }; migrations(): Promise<{ applied: number }> }): Promise<void> {
  if ((await store.migrations()).applied > 0) return;
  throw new HubError(
    'store_not_found',
    `no hub data in ${store.pg.safeUrl}: the database holds no Switchboard tables (a hub makes them when it first starts, and so do \`tokens create\` and \`users invite\`); check store.url or DATABASE_URL`,
    { details: { database: store.pg.safeUrl } },
  );
}

/**
 * Why the store file cannot be opened, or undefined when it is there: 'missing' only when it is
 * not there. A file the user may not read is not a missing one (`existsSync` says false for both,
 * and sent a user who ran a command as the wrong user looking for a typo in --data).
 */
function whyUnreadable(file: string): string | undefined {
  try {
    statSync(file);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'EACCES' || code === 'EPERM') return 'cannot be read by this user (permission denied): run as the user who owns the data dir';
    if (code === 'ENOTDIR') return 'cannot be there: a part of its path is a file, not a folder';
    return `cannot be read (${code ?? String(err)})`;
  }
}
