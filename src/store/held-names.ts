/** Tools' and prompts' names are held apart, as they are listed apart. */
export type HeldKind = 'tool' | 'prompt';

/** One identity's holdings: exposed name → claim key, in the order they were first held. */
export type Holdings = ReadonlyArray<readonly [name: string, key: string]>;

/** What the store holds for one identity, and the store's version when it was put. */
export interface HeldEntry {
  identity: string;
  version: number;
  names: Holdings;
}

export type PutOutcome = { stored: true; version: number } | { stored: false; entry: HeldEntry | undefined };

/**
 * The tool and prompt names handed out to each identity, where every process on the store reads
 * them (src/mcp/held-names.ts keeps them in memory and reads through to this). Only the replicas
 * on one PostgreSQL database need it: a single process (SQLite) holds its names in memory alone.
 * Every put raises the store's version, and puts become visible in version order, so a process
 * that has read everything up to version V needs only what came after.
 */
export interface HeldNamesStore {
  /** The store's version now: one cheap read, compared before anything else is read. */
  version(): Promise<number>;
  /** The entries of `kind` put after version `after` (all of them for 0), and the version they are current at. */
  since(kind: HeldKind, after: number): Promise<{ version: number; entries: HeldEntry[] }>;
  /**
   * Stores one identity's whole holdings if what the store has for it is still at version
   * `expected` (0: nothing); otherwise stores nothing and answers what it has, which the caller
   * adopts (another process handed names out first). Past the store's bound, the identities put
   * least recently are dropped.
   */
  put(kind: HeldKind, identity: string, expected: number, names: Holdings): Promise<PutOutcome>;
}

/**
 * The store in one process's memory: what the PostgreSQL one does, for processes that share a
 * JavaScript heap (tests of the replicas' logic, and the contract the PostgreSQL store is held to).
 */
export class MemoryHeldNames implements HeldNamesStore {
  private current = 0;
  private readonly rows = new Map<string, HeldEntry & { kind: HeldKind }>();

  constructor(private readonly maxIdentities = 1_000) {}

  async version(): Promise<number> {
    return this.current;
  }

  async since(kind: HeldKind, after: number): Promise<{ version: number; entries: HeldEntry[] }> {
    const entries = [...this.rows.values()].filter((r) => r.kind === kind && r.version > after).sort((a, b) => a.version - b.version);
    return { version: this.current, entries: entries.map(({ identity, version, names }) => ({ identity, version, names: [...names] })) };
  }

  async put(kind: HeldKind, identity: string, expected: number, names: Holdings): Promise<PutOutcome> {
    const key = `${kind}\0${identity}`;
    const stored = this.rows.get(key);
    if ((stored?.version ?? 0) !== expected) return { stored: false, entry: stored && { identity, version: stored.version, names: [...stored.names] } };
    this.current++;
    this.rows.delete(key);
    this.rows.set(key, { kind, identity, version: this.current, names: [...names] });
    // Rows are in put order: the first of the kind is the one put least recently.
    const ofKind = [...this.rows.entries()].filter(([, r]) => r.kind === kind);
    for (const [k] of ofKind.slice(0, Math.max(0, ofKind.length - this.maxIdentities))) this.rows.delete(k);
    return { stored: true, version: this.current };
  }
}
