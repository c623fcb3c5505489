import type { Pacer } from '../../src/providers/pacing.js';

export interface Grant {
  /** Milliseconds from the start of the window. */
  at: number;
  by: string;
}

/**
 * Two processes' pacers under load: four callers each, asking again as soon as their answer (a
 * plain 200) is observed, for `windowMs`. Returns the grants made within the window.
 */
export async function grantsIn(a: Pacer, b: Pacer, key: string, windowMs: number): Promise<Grant[]> {
  const grants: Grant[] = [];
  const stop = new AbortController();
  const start = performance.now();
  const loop = async (p: Pacer, by: string) => {
    while (!stop.signal.aborted) {
      try {
        await p.acquire(key, stop.signal);
      } catch {
        return;
      }
      grants.push({ at: performance.now() - start, by });
      await p.observe?.(key, { status: 200, headers: new Headers() });
      // A pacer that grants at once must not hold the event loop: the window's timer ends the loops.
      await new Promise((r) => setImmediate(r));
    }
  };
  const runs = [a, a, a, a].map((p) => loop(p, 'a')).concat([b, b, b, b].map((p) => loop(p, 'b')));
  await new Promise((r) => setTimeout(r, windowMs));
  stop.abort();
  await Promise.all(runs);
  return grants.filter((g) => g.at <= windowMs);
}

/** The most grants in any stretch of the run beyond what `perSecond` refills in that stretch. */
export function worstExcess(grants: readonly Grant[], perSecond: number): number {
  const at = grants.map((g) => g.at).sort((x, y) => x - y);
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < at.length; i++)
    for (let j = i; j < at.length; j++) worst = Math.max(worst, j - i + 1 - Math.ceil((perSecond * (at[j]! - at[i]!)) / 1000));
  return worst;
}

/**
 * The fewest grants a pacer at `perSecond` should make in `windowMs` under load: 70 % of the rate.
 * A loaded machine (the suite's other files, a database on the same cores) delays the callers'
 * loops; a gate that serialises the replicas or waits a refill too many still falls below it.
 */
export function fewestGrants(perSecond: number, windowMs: number): number {
  return Math.floor((0.7 * perSecond * windowMs) / 1000);
}
