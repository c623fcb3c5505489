/**
 * Check-by-check comparison of two runs of the conformance suite (the fixture directly, and the
 * same fixture behind a hub), and the checked-in list of losses the proxy is known to have.
 * Pure functions over the suite's results, so the verdict logic is tested without running it.
 */
import { z } from 'zod';
import { REQUIREMENT_SETS, type RequirementSet, type ScenarioChecks } from './conformance-suite.js';

/** How the fixture sits behind the hub: its transport, and the newest protocol era it speaks. */
export const PAIRINGS = ['stdio-2025', 'stdio-2026', 'http-2025', 'http-2026'] as const;
export type Pairing = (typeof PAIRINGS)[number];

/**
 * `scenario/check-id` of every check that passed. A scenario may emit one id several times (the
 * SEP-2243 header checks do, once per case); the second and later get `#2`, `#3`… in emission
 * order, which the suite keeps stable from run to run.
 */
export function passedChecks(scenarios: readonly ScenarioChecks[]): Set<string> {
  const passed = new Set<string>();
  for (const { scenario, checks } of scenarios) {
    const seen = new Map<string, number>();
    for (const c of checks) {
      const n = (seen.get(c.id) ?? 0) + 1;
      seen.set(c.id, n);
      if (c.status === 'SUCCESS') passed.add(n === 1 ? `${scenario}/${c.id}` : `${scenario}/${c.id}#${n}`);
    }
  }
  return passed;
}

export interface Comparison {
  direct: number;
  throughHub: number;
  /** Passed directly, not through the hub (failed, warned, or never emitted). */
  lost: string[];
  /** Passed through the hub only: the hub adds what the fixture alone lacks (e.g. 2026 for a 2025-only server). */
  gained: string[];
}

export function compare(direct: ReadonlySet<string>, throughHub: ReadonlySet<string>): Comparison {
  return {
    direct: direct.size,
    throughHub: throughHub.size,
    lost: [...direct].filter((c) => !throughHub.has(c)).sort(),
    gained: [...throughHub].filter((c) => !direct.has(c)).sort(),
  };
}

/** pairing → requirement set → `scenario/check` lost through the hub today. */
export type KnownLosses = ReadonlyMap<Pairing, ReadonlyMap<RequirementSet, ReadonlySet<string>>>;

const checkKey = z.string().regex(/^[\w.-]+\/[^\s#]+(#\d+)?$/, 'a check is written scenario/check-id');

/**
 * Reads the known-losses list: a YAML subset, two levels of keys and a list of checks.
 *
 *   http-2025:          # pairing
 *     2026-07-28:       # requirement set
 *       - scenario/check-id   # why
 *
 * A full YAML parser would be a new dependency of the hub for one file; this grammar is all the
 * file needs, and anything outside it is refused with its line number rather than misread.
 */
export function parseKnownLosses(text: string, file = 'known losses'): KnownLosses {
  const out = new Map<Pairing, Map<RequirementSet, Set<string>>>();
  let pairing: Pairing | undefined;
  let set: RequirementSet | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw
      .replace(/\s+#.*$/, '')
      .replace(/^#.*$/, '')
      .trimEnd();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    const top = /^([\w-]+):$/.exec(line);
    const mid = /^ {2}([\w-]+):(\s*\[\])?$/.exec(line);
    const item = /^ {4}- (\S+)$/.exec(line);
    if (top) {
      const p = z.enum(PAIRINGS).safeParse(top[1]);
      if (!p.success) throw new Error(`${where}: unknown pairing "${top[1]}" (one of ${PAIRINGS.join(', ')})`);
      if (out.has(p.data)) throw new Error(`${where}: pairing ${p.data} listed twice`);
      pairing = p.data;
      set = undefined;
      out.set(pairing, new Map());
    } else if (mid) {
      const s = z.enum(REQUIREMENT_SETS).safeParse(mid[1]);
      if (!pairing) throw new Error(`${where}: a requirement set outside any pairing`);
      if (!s.success) throw new Error(`${where}: unknown requirement set "${mid[1]}" (one of ${REQUIREMENT_SETS.join(', ')})`);
      const sets = out.get(pairing)!;
      if (sets.has(s.data)) throw new Error(`${where}: ${pairing} lists ${s.data} twice`);
      set = s.data;
      sets.set(set, new Set());
    } else if (item) {
      if (!pairing || !set) throw new Error(`${where}: a check outside any pairing and requirement set`);
      const c = checkKey.safeParse(item[1]);
      if (!c.success) throw new Error(`${where}: "${item[1]}": ${c.error.issues[0]!.message}`);
      const checks = out.get(pairing)!.get(set)!;
      if (checks.has(c.data)) throw new Error(`${where}: ${c.data} listed twice`);
      checks.add(c.data);
    } else {
      throw new Error(`${where}: cannot read "${raw.trim()}" (expected "pairing:", "  requirement-set:" or "    - scenario/check")`);
    }
  });
  return out;
}

export interface Verdict {
  ok: boolean;
  /** Lost and not in the list: a regression (or, in strict mode, any loss). */
  unexpected: string[];
  /** Listed, but the check now passes through the hub, or no longer passes directly: remove it. */
  stale: string[];
}

/**
 * Strict mode fails on any loss. Known-losses mode fails on a loss the list does not name and on
 * a listed loss that no longer happens, so the list can only shrink and never hides a regression.
 */
export function judge(c: Comparison, known: ReadonlySet<string> | 'strict'): Verdict {
  if (known === 'strict') return { ok: c.lost.length === 0, unexpected: c.lost, stale: [] };
  const lost = new Set(c.lost);
  const unexpected = c.lost.filter((l) => !known.has(l));
  const stale = [...known].filter((k) => !lost.has(k)).sort();
  return { ok: unexpected.length === 0 && stale.length === 0, unexpected, stale };
}

/** Renders a list of losses for the known-losses file, so a run's output can be pasted in. */
export function formatKnownLosses(losses: ReadonlyMap<Pairing, ReadonlyMap<RequirementSet, readonly string[]>>): string {
  const lines: string[] = [];
  for (const p of PAIRINGS) {
    const sets = losses.get(p);
    if (!sets) continue;
    lines.push(`${p}:`);
    for (const s of REQUIREMENT_SETS) {
      const checks = sets.get(s);
      if (!checks) continue;
      lines.push(checks.length === 0 ? `  ${s}: []` : `  ${s}:`);
      for (const c of checks) lines.push(`    - ${c}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
