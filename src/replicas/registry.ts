/**
 * Where each running hub replica is reached, so a request that reaches one replica but needs
 * another's memory (a held call's next round) can be sent on to it (issue 13, "Sessions"). Only
 * HTTP-serving processes register: a `stdio` hub has no `/mcp` another replica could reach.
 */

/** A replica as it registers itself: PROCESS_ID, the base URL of its listener, its start time. */
export interface ReplicaSelf {
  id: string;
  /** Base URL other replicas reach this one's `/mcp` under (`server.internalUrl`), no trailing slash. */
  url: string;
  startedAt: number;
}

export interface ReplicaLookup {
  url: string;
  /** Not stopped, and its last heartbeat is newer than `MISSED_BEATS` intervals. */
  alive: boolean;
}

/** Each replica's own view of the table: it writes only its own row. */
export interface ReplicaRegistry {
  /** Records this replica (again, after a restart under the same id), heartbeat now. */
  register(self: ReplicaSelf): Promise<void>;
  /** Marks this replica alive now; re-registers it if its row was pruned meanwhile. */
  heartbeat(): Promise<void>;
  /** Undefined for an id that never registered (a `stdio` hub) or whose row was pruned. */
  lookup(id: string): Promise<ReplicaLookup | undefined>;
  /**
   * The base URLs of the replicas alive now, the most recently started first: where a command on
   * this store finds a hub serving it (one started with another --port than the config says).
   */
  live(): Promise<string[]>;
  /**
   * Marks this replica stopped (a clean stop): lookups of it answer `alive: false` at once. The
   * row stays until pruned, so a retry naming it can be told its holder stopped.
   */
  forget(): Promise<void>;
}

/** How often a replica beats unless told otherwise. */
export const DEFAULT_HEARTBEAT_MS = 5_000;
/**
 * A replica is alive while its last beat is newer than this many intervals: one missed beat (a
 * long GC pause, a slow disk) must not make it look gone, three mean it is.
 */
export const MISSED_BEATS = 3;
/** Rows of replicas dead this long are deleted when another registers: their states expired long ago. */
export const PRUNE_AFTER_MS = 24 * 60 * 60_000;

export interface ReplicaRegistryOptions {
  clock: { now(): number };
  heartbeatMs?: number;
}

/** Whether a replica whose last beat was at `beatAt` still counts as alive at `now`. */
export function isAlive(beatAt: number, now: number, heartbeatMs: number, stoppedAt: number | null = null): boolean {
  return stoppedAt === null && now - beatAt < MISSED_BEATS * heartbeatMs;
}
