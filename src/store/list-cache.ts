import { createHash } from 'node:crypto';
import type { Prompt, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from './db.js';

/** What a downstream server last listed: served at start-up, before the server has answered. */
export interface CachedLists {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}

/** Last-known lists per downstream server, keyed by a hash of the server's config. */
export interface ListCache {
  get(server: string, configHash: string): Promise<CachedLists | undefined>;
  put(server: string, configHash: string, lists: CachedLists): Promise<void>;
}

/** A server's key in the cache. Secrets in env or headers must not be stored: it is a hash of the whole config entry. */
export function listCacheKey(config: unknown): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 32);
}

// The shapes are the downstream's and were validated by the SDK when it listed them; this checks
// only that the row is ours and whole (a row from a newer version may carry more).
const rowSchema = z.object({
  tools: z.array(z.looseObject({ name: z.string() })),
  resources: z.array(z.looseObject({ uri: z.string() })),
  resourceTemplates: z.array(z.looseObject({ uriTemplate: z.string() })),
  prompts: z.array(z.looseObject({ name: z.string() })),
});

/** A stored `lists` column, or undefined when it does not parse: a cache row we cannot read is absent. */
export function readLists(raw: string): CachedLists | undefined {
  try {
    const parsed = rowSchema.safeParse(JSON.parse(raw));
    return parsed.success ? (parsed.data as unknown as CachedLists) : undefined;
  } catch {
    return undefined;
  }
}

/** The SQLite list cache; a row that does not parse is treated as absent. */
export class SqliteListCache implements ListCache {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async get(server: string, configHash: string): Promise<CachedLists | undefined> {
    const raw = this.db.prepare('SELECT lists FROM downstream_lists WHERE server = ? AND config_hash = ?').pluck().get(server, configHash) as
      | string
      | undefined;
    return raw === undefined ? undefined : readLists(raw);
  }

  async put(server: string, configHash: string, lists: CachedLists): Promise<void> {
    const now = this.clock.now();
    // One row per server: an entry for an older config is of no use once the config changed.
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM downstream_lists WHERE server = ? AND config_hash <> ?').run(server, configHash);
      this.db
        .prepare(
          'INSERT INTO downstream_lists (server, config_hash, lists, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (server, config_hash) DO UPDATE SET lists = excluded.lists, updated_at = excluded.updated_at',
        )
        .run(server, configHash, JSON.stringify(lists), now);
    })();
  }
}
