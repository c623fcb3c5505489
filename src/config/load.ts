import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { HubError } from '../errors.js';
import { interpolateEnv } from './interpolate.js';
import { configSchema, type HubConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'switchboard.config.json';

/** Without a config file the local sandbox provider is linked in, so every flow can be tried offline. */
const EMBEDDED_DEFAULTS = { integrations: { sandbox: {} } };

export interface LoadedConfig {
  config: HubConfig;
  /** The file read, or undefined when the embedded defaults are in use. */
  file: string | undefined;
}

export interface LoadOptions {
  /** An explicit --config; it must exist. */
  file?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Reads the config file (explicit, or `switchboard.config.json` when present) or uses embedded defaults. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  if (opts.file !== undefined) {
    const file = resolve(cwd, opts.file);
    if (!existsSync(file)) throw new HubError('config_not_found', `config file not found: ${file}`, { details: { file } });
    return { config: parseConfigText(readFileSync(file, 'utf8'), file, env), file };
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(fallback)) return { config: parseConfigText(readFileSync(fallback, 'utf8'), fallback, env), file: fallback };
  return { config: configSchema.parse(EMBEDDED_DEFAULTS), file: undefined };
}

export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new HubError('config_invalid', `${file}: not valid JSON: ${(err as Error).message}`, { details: { file } });
  }
  return parseConfigValue(interpolateEnv(raw, env, file), file);
}

export function parseConfigValue(raw: unknown, file: string): HubConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new HubError('config_invalid', `${file}: ${formatIssues(result.error.issues)}`, {
    details: { file, issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') {
        const keys = i.keys.map((k) => (path ? `${path}.${k}` : k));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
      }
      return `${path || '(root)'}: ${i.message}`;
    })
    .join('; ');
}
