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

/**
 * Assigns exposed names to claims in order: the first claimant of a name keeps it; later ones get
 * the stable hash suffix. Because claims come in a fixed order (sources in config order, tools in
 * the order the source lists them), the result is the same on every run.
 */
export function assignNames(claims: readonly NameClaim[]): string[] {
  const taken = new Set<string>();
  const out: string[] = [];
  for (const c of claims) {
    const { name } = preferredName(c.source, c.tool, c.prefix);
    let chosen = name;
    if (taken.has(chosen)) {
      chosen = withSuffix(name, stableHash(c.source, c.tool));
      // A suffix can itself collide only by hash collision or a tool literally named so; salt until free.
      for (let salt = 1; taken.has(chosen); salt++) chosen = withSuffix(name, stableHash(c.source, `${c.tool}#${salt}`));
    }
    taken.add(chosen);
    out.push(chosen);
  }
  return out;
}
