import { z } from 'zod';
import type { HeldEntry, HeldKind, HeldNamesStore, Holdings, PutOutcome } from '../held-names.js';
import type { PgStore, Queryable, Row } from './pool.js';

const versionOf = (r: Row): number => z.number().int().nonnegative().parse(r.version);
const namesSchema = z.array(z.tuple([z.string(), z.string()]));

/** A row's entry; holdings that do not parse (a row from a newer version) are read as none, at the row's version. */
function entryOf(r: Row): HeldEntry {
  let names: Holdings = [];
  try {
    const parsed = namesSchema.safeParse(JSON.parse(z.string().parse(r.names)));
    if (parsed.success) names = parsed.data;
  } catch {
    // Read as none: the next put for the identity writes what it holds.
  }
  return { identity: z.string().parse(r.identity), version: versionOf(r), names };
}

// No row yet (no put so far) reads as version 0.
const readVersion = (q: Queryable) => q.one('SELECT COALESCE((SELECT version FROM held_names_version WHERE id = 1), 0) AS version', [], versionOf);

/**
 * The names replicas hand out, on PostgreSQL (migration 10). A put takes the one version row's lock
 * before it reads the identity's row, so puts run one after another and commit in version order:
 * a reader that saw version V has seen every put up to V, and a put whose `expected` is stale
 * (another replica put the identity first) stores nothing. Puts are rare (a list that hands out a
 * name not held yet), reads of the version are one primary-key lookup.
 */
export class PgHeldNames implements HeldNamesStore {
  constructor(
    private readonly store: PgStore,
    /** Identities of each kind kept: past it, the ones put least recently are dropped. */
    private readonly maxIdentities = 1_000,
  ) {}

  version(): Promise<number> {
    return readVersion(this.store);
  }

  since(kind: HeldKind, after: number): Promise<{ version: number; entries: HeldEntry[] }> {
    // One snapshot for both reads, so the entries are exactly those up to the version returned.
    return this.store.tx(
      async (q) => {
        const version = await readVersion(q);
        const entries = await q.query(
          'SELECT identity, version, names FROM held_names WHERE kind = $1 AND version > $2 ORDER BY version',
          [kind, after],
          entryOf,
        );
        return { version, entries };
      },
      { isolation: 'repeatable read' },
    );
  }

  put(kind: HeldKind, identity: string, expected: number, names: Holdings): Promise<PutOutcome> {
    return this.store.tx(async (q): Promise<PutOutcome> => {
      await q.exec('INSERT INTO held_names_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
      const current = await q.one('SELECT version FROM held_names_version WHERE id = 1 FOR UPDATE', [], versionOf);
      const stored = await q.maybeOne('SELECT identity, version, names FROM held_names WHERE kind = $1 AND identity = $2', [kind, identity], entryOf);
      if ((stored?.version ?? 0) !== expected) return { stored: false, entry: stored };
      const version = current + 1;
      await q.exec('UPDATE held_names_version SET version = $1 WHERE id = 1', [version]);
      await q.exec(
        `INSERT INTO held_names (kind, identity, version, names) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, identity) DO UPDATE SET version = EXCLUDED.version, names = EXCLUDED.names`,
        [kind, identity, version, JSON.stringify(names)],
      );
      await q.exec(
        `DELETE FROM held_names WHERE kind = $1 AND version <= (
           SELECT version FROM held_names WHERE kind = $1 ORDER BY version DESC OFFSET $2 LIMIT 1)`,
        [kind, this.maxIdentities],
      );
      return { stored: true, version };
    });
  }
}
