import type { HeldEntry, HeldKind, HeldNamesStore } from '../store/held-names.js';
import { assignNames, claimKey, type NameClaim } from './naming.js';

export interface HeldNamesLimits {
  /** Names an identity keeps for tools no longer in its list (a server down, a tool removed); the oldest go first past it. */
  maxAbsent?: number;
  /** Identities whose names are held; past it the least recently listed one's go (its next list is assigned afresh). */
  maxIdentities?: number;
}

/** Replicas on one store: the names are held there too, so that each means one tool on all of them. */
export interface SharedHolding {
  store: HeldNamesStore;
  kind: HeldKind;
  /**
   * Names changed other than by `assign` (undefined: every identity's, once the store was read):
   * the names given here were stored (`moved` false), or another replica had stored the identity's
   * first and those replaced them (`moved` true: a name listed here may now mean another tool).
   */
  settled(identity: string | undefined, moved: boolean): void;
}

interface Holding {
  /** Exposed name → claim key, least recently held first. */
  names: Map<string, string>;
  /** The store's version of these holdings (0: none stored). */
  version: number;
  /** Names given here and not stored yet: another replica may have given them first, so nothing resolves them until stored. */
  pending: Set<string>;
}

const empty = (): Holding => ({ names: new Map(), version: 0, pending: new Set() });

/**
 * The names handed out to each identity (exposed name → claim key), so that a name keeps meaning
 * the tool it was first listed for while the hub runs — also while that tool's server is
 * starting, restarting or failed — and a newcomer that wants it (a server that started late, a
 * tool a server added) gets the stable hash suffix instead. Views are per identity, so the
 * holdings are too: each identity's first list is assigned in order, as on every fresh start.
 * Sources are fixed for the life of the process (the config is read once), so no holding outlives
 * its source's configuration; the limits bound what tools that come and go leave behind.
 *
 * Replicas differ in what they list (each runs its own copy of a server, which may be down or
 * older on one), so given its own order each would hand one name to different tools, and a
 * stateless client that listed on one runs another tool on the next. With a shared store the
 * holdings are read from it at start and kept here, so lists and calls read memory; a name given
 * here is stored (compare-and-set on the identity's version) before anything resolves it, and a
 * list or a call that finds no name first reads what other replicas stored since (`sync`).
 */
export class HeldNames {
  private readonly byIdentity = new Map<string, Holding>();
  private readonly maxAbsent: number;
  private readonly maxIdentities: number;
  /** The store's version the holdings here are current at. */
  private version = 0;
  private loaded: boolean;
  private loading: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly unsaved = new Set<string>();
  private readonly saving = new Map<string, Promise<void>>();

  constructor(
    limits: HeldNamesLimits = {},
    private readonly shared?: SharedHolding,
  ) {
    this.maxAbsent = limits.maxAbsent ?? 1000;
    // Each identity holds every name it listed (~140 bytes each: 300 tools are ~40 KiB), so a
    // thousand identities that listed recently cost tens of MB at most.
    this.maxIdentities = limits.maxIdentities ?? 1_000;
    this.loaded = shared === undefined;
  }

  /** The exposed names of `claims` for this identity; the names given are held from now on. */
  assign(identity: string, claims: readonly NameClaim[]): string[] {
    const held = this.byIdentity.get(identity) ?? empty();
    // Before the store was read nothing is held here, and a name given now could be another replica's: none is kept or resolved.
    if (!this.loaded) return assignNames(claims, held.names);
    // Deleted and set again below, so the map's order is least recently listed first.
    this.byIdentity.delete(identity);
    const names = assignNames(claims, held.names);
    for (const [i, name] of names.entries()) {
      if (held.names.has(name)) continue;
      held.names.set(name, claimKey(claims[i]!));
      if (this.shared) held.pending.add(name);
    }
    this.dropAbsent(held, new Set(names));
    this.keep(identity, held);
    if (held.pending.size > 0) {
      this.unsaved.add(identity);
      void this.save(identity);
    }
    return names;
  }

  /** Whether `name` may be resolved for this identity: always in one process; with replicas, once the store holds it. */
  resolves(identity: string, name: string): boolean {
    if (!this.shared) return true;
    return this.loaded && this.byIdentity.get(identity)?.pending.has(name) === false;
  }

  /** Reads the store's holdings once (a replica's start); undefined when done or when there is no store. Rejects while the store cannot be read. */
  load(): Promise<void> | undefined {
    if (this.loaded) return undefined;
    this.loading ??= this.readStore().then(
      () => {
        this.loaded = true;
        this.shared?.settled(undefined, false);
      },
      (err: unknown) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  /**
   * Resolves once what other replicas stored before this call is read, and the names given here
   * are stored (or replaced by another replica's). Never rejects: with the store away, the names
   * held here still serve and new ones wait. Undefined without a store.
   */
  sync(): Promise<void> | undefined {
    if (!this.shared) return undefined;
    if (!this.loaded) return this.load()?.catch(() => {});
    // A check already in flight may have read the version before this call came: the queued one starts after it, and serves every caller until it starts.
    this.queued ??= (async () => {
      await this.checking;
      this.queued = undefined;
      this.checking = this.check();
      await this.checking;
    })();
    return this.queued;
  }

  private async check(): Promise<void> {
    try {
      if ((await this.shared!.store.version()) > this.version) await this.readStore();
    } catch {
      // The store away: what is held here serves, and the next sync reads again.
    }
    await Promise.all([...this.unsaved].map((identity) => this.save(identity)));
  }

  private async readStore(): Promise<void> {
    const got = await this.shared!.store.since(this.shared!.kind, this.version);
    for (const entry of got.entries) this.adopt(entry);
    this.version = Math.max(this.version, got.version);
  }

  /** Takes the store's holdings for an identity in place of older ones here; names given here and not stored are dropped. */
  private adopt(entry: HeldEntry | undefined, identity = entry?.identity): void {
    if (identity === undefined) return;
    const held = this.byIdentity.get(identity);
    if (entry && held && held.version >= entry.version) return;
    const names = new Map(entry?.names);
    const moved = held !== undefined && [...held.pending].some((n) => names.get(n) !== held.names.get(n));
    this.byIdentity.delete(identity);
    this.unsaved.delete(identity);
    this.keep(identity, { names, version: entry?.version ?? 0, pending: new Set() });
    // Announced only if a name given here now means something else: otherwise only the view is built again.
    if (held !== undefined) this.shared!.settled(identity, moved);
  }

  /** Stores an identity's names given here, one put at a time per identity; failures leave them for the next sync. */
  private save(identity: string): Promise<void> {
    const inFlight = this.saving.get(identity);
    if (inFlight) return inFlight;
    const run = this.put(identity).finally(() => this.saving.delete(identity));
    this.saving.set(identity, run);
    return run;
  }

  private async put(identity: string): Promise<void> {
    for (;;) {
      const held = this.byIdentity.get(identity);
      if (!held || held.pending.size === 0) return void this.unsaved.delete(identity);
      const sent = [...held.pending];
      let outcome: Awaited<ReturnType<HeldNamesStore['put']>>;
      try {
        outcome = await this.shared!.store.put(this.shared!.kind, identity, held.version, [...held.names]);
      } catch {
        return;
      }
      // Replaced meanwhile (read from the store, or dropped past maxIdentities): what was sent is moot.
      if (this.byIdentity.get(identity) !== held) return;
      if (!outcome.stored) {
        this.adopt(outcome.entry, identity);
        return;
      }
      held.version = outcome.version;
      for (const n of sent) held.pending.delete(n);
      this.shared!.settled(identity, false);
      // Names given while the put was in flight go in the next one.
    }
  }

  private keep(identity: string, held: Holding): void {
    this.byIdentity.set(identity, held);
    if (this.byIdentity.size > this.maxIdentities) {
      const oldest = this.byIdentity.keys().next().value!;
      this.byIdentity.delete(oldest);
      this.unsaved.delete(oldest);
    }
  }

  /** Past the limit, the names held longest by tools not in the current list are released. */
  private dropAbsent(held: Holding, current: ReadonlySet<string>): void {
    let absent = held.names.size - current.size;
    for (const name of held.names.keys()) {
      if (absent <= this.maxAbsent) return;
      if (current.has(name)) continue;
      held.names.delete(name);
      absent--;
    }
  }
}
