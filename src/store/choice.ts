import { pgUrlSchema, type HubConfig } from '../config/schema.js';
import { HubError } from '../errors.js';
import { urlSecrets } from './url-secrets.js';

/** The environment variable naming the PostgreSQL store when the config has no `store.url` (Heroku's and most platforms' name). */
export const DATABASE_URL_ENV = 'DATABASE_URL';

/** Which engine a config (and its environment) names. */
export type StoreChoice = { kind: 'sqlite' } | { kind: 'postgres'; url: string; from: 'store.url' | typeof DATABASE_URL_ENV };

/**
 * The one place the engine is chosen, for the hub and for every command: `store.url`, else
 * DATABASE_URL, else SQLite in the data dir. A malformed DATABASE_URL stops here with a message
 * that names the variable, never its value (it holds the password).
 */
export function storeChoice(config: Pick<HubConfig, 'store'>, env: NodeJS.ProcessEnv = process.env): StoreChoice {
  if (config.store.url !== undefined) return { kind: 'postgres', url: config.store.url, from: 'store.url' };
  const fromEnv = env[DATABASE_URL_ENV];
  if (fromEnv === undefined || fromEnv === '') return { kind: 'sqlite' };
  const parsed = pgUrlSchema.safeParse(fromEnv);
  if (!parsed.success) {
    throw new HubError('config_invalid', `${DATABASE_URL_ENV}: ${parsed.error.issues[0]?.message ?? 'not a PostgreSQL URL'}`, {
      details: { variable: DATABASE_URL_ENV },
    });
  }
  return { kind: 'postgres', url: parsed.data, from: DATABASE_URL_ENV };
}

/** A validated store URL with its password replaced, for `doctor` and logs (the pool's `safeUrl`, before any pool exists). */
export function redactedUrl(url: string): string {
  return urlSecrets(url).safeUrl;
}
