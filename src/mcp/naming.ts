import { createHash } from 'node:crypto';

/** The contract: tool names use only [A-Za-z0-9_-] and are at most 64 characters. */
export const MAX_TOOL_NAME = 64;
const SEPARATOR = '__';
const HASH_LEN = 6;

export function sanitize(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return s.length > 0 ? s : '_';
}

/** A short hash that depends only on where the tool comes from, so it is stable across restarts. */
export function stableHash(source: string, tool: string): string {
  return createHash('sha256')
    .update(`${source}\0${tool}`)
    .digest('base64url')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, HASH_LEN)
    .toLowerCase();
}

export function withSuffix(base: string, hash: string): string {
  const room = MAX_TOOL_NAME - hash.length - 1;
  return `${base.slice(0, room)}_${hash}`;
}

/** The name a tool would have if nothing collided: `<source>__<tool>`, or `<tool>` unprefixed. */
export function preferredName(source: string, tool: string, prefix: boolean): { name: string; changed: boolean } {
  const raw = prefix ? `${sanitize(source)}${SEPARATOR}${sanitize(tool)}` : sanitize(tool);
  const original = prefix ? `${source}${SEPARATOR}${tool}` : tool;
  if (raw.length <= MAX_TOOL_NAME) return { name: raw, changed: raw !== original };
  return { name: withSuffix(raw, stableHash(source, tool)), changed: true };
}

export interface NameClaim {
  source: string;
  tool: string;
  prefix: boolean;
}

/** What a claim is: the tool `tool` of the source `source`, whichever name it is shown under. */
export function claimKey(c: NameClaim): string {
  return `${c.source}\0${c.tool}`;
}

/**
 * Assigns exposed names to claims. A name in `held` (exposed name → claim key: names handed out
 * before) goes to the claim it was handed to and to no other, present or not: a client that
 * listed once (Claude Desktop never lists again) must not reach another tool by an old name. The
 * others are assigned in order: the first claimant of a free name keeps it; later ones get the
 * stable hash suffix. Because claims come in a fixed order (sources in config order, tools in the
 * order the source lists them), the result with nothing held is the same on every run.
 */
export function assignNames(claims: readonly NameClaim[], held: ReadonlyMap<string, string> = new Map()): string[] {
  const heldBy = new Map<string, string[]>();
  for (const [name, key] of held) {
    const names = heldBy.get(key);
    if (names) names.push(name);
    else heldBy.set(key, [name]);
  }
  const keys = claims.map(claimKey);
  const taken = new Set<string>();
  const out: (string | undefined)[] = keys.map((key) => {
    // A key holds more than one name only when its source lists the tool twice.
    const name = heldBy.get(key)?.shift();
    if (name !== undefined) taken.add(name);
    return name;
  });
  const free = (name: string, key: string) => !taken.has(name) && (held.get(name) ?? key) === key;
  claims.forEach((c, i) => {
    if (out[i] !== undefined) return;
    const { name } = preferredName(c.source, c.tool, c.prefix);
    let chosen = name;
    if (!free(chosen, keys[i]!)) {
      chosen = withSuffix(name, stableHash(c.source, c.tool));
      // A suffix can itself collide only by hash collision or a tool literally named so; salt until free.
      for (let salt = 1; !free(chosen, keys[i]!); salt++) chosen = withSuffix(name, stableHash(c.source, `${c.tool}#${salt}`));
    }
    taken.add(chosen);
    out[i] = chosen;
  });
  return out as string[];
}
