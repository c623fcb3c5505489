import { assignNames, claimKey, type NameClaim } from './naming.js';

export interface HeldNamesLimits {
  /** Names an identity keeps for tools no longer in its list (a server down, a tool removed); the oldest go first past it. */
  maxAbsent?: number;
  /** Identities whose names are held; past it the least recently listed one's go (its next list is assigned afresh). */
  maxIdentities?: number;
}

/**
 * The names handed out to each identity (exposed name → claim key), so that a name keeps meaning
 * the tool it was first listed for while the process lives — also while that tool's server is
 * starting, restarting or failed — and a newcomer that wants it (a server that started late, a
 * tool a server added) gets the stable hash suffix instead. Views are per identity, so the
 * holdings are too: each identity's first list is assigned in order, as on every fresh start.
 * Sources are fixed for the life of the process (the config is read once), so no holding outlives
 * its source's configuration; the limits bound what tools that come and go leave behind.
 */
export class HeldNames {
  private readonly byIdentity = new Map<string, Map<string, string>>();
  private readonly maxAbsent: number;
  private readonly maxIdentities: number;

  constructor(limits: HeldNamesLimits = {}) {
    this.maxAbsent = limits.maxAbsent ?? 1000;
    // Each identity holds every name it listed (~140 bytes each: 300 tools are ~40 KiB), so a
    // thousand identities that listed recently cost tens of MB at most.
    this.maxIdentities = limits.maxIdentities ?? 1_000;
  }

  /** The exposed names of `claims` for this identity; the names given are held from now on. */
  assign(identity: string, claims: readonly NameClaim[]): string[] {
    const held = this.byIdentity.get(identity) ?? new Map<string, string>();
    // Deleted and set again below, so the map's order is least recently listed first.
    this.byIdentity.delete(identity);
    const names = assignNames(claims, held);
    for (const [i, name] of names.entries()) held.set(name, claimKey(claims[i]!));
    this.dropAbsent(held, new Set(names));
    this.byIdentity.set(identity, held);
    if (this.byIdentity.size > this.maxIdentities) this.byIdentity.delete(this.byIdentity.keys().next().value!);
    return names;
  }

  /** Past the limit, the names held longest by tools not in the current list are released. */
  private dropAbsent(held: Map<string, string>, current: ReadonlySet<string>): void {
    let absent = held.size - current.size;
    for (const name of held.keys()) {
      if (absent <= this.maxAbsent) return;
      if (current.has(name)) continue;
      held.delete(name);
      absent--;
    }
  }
}
