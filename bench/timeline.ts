/**
 * The hub's own time on a call's critical path, from the instants bench/hub-timeline.ts records in
 * the hub: `in` → `out` is the way there (the caller's request parsed, routed, checked and turned
 * into the agent's request), `back` → `done` the way back (the agent's answer read and turned into
 * the caller's). Everything else a call waits for (the agent, the network, the caller) is outside.
 *
 * The instants carry no call id, so a leg is counted only when its two instants are adjacent in
 * the hub's event order and its start does not follow another start: then nothing else ran between
 * them, and the end is the same call's (the hub turns a request into the agent's without waiting
 * for other I/O). Legs interleaved with another call's are left out (`n` says how many were kept),
 * which leaves out waiting behind other calls and keeps the hub's own work.
 */
import { readFileSync } from 'node:fs';
import { percentile } from './stats.js';

export type TimelineKind = 'in' | 'out' | 'back' | 'done';
/** One instant: its kind and when, in epoch milliseconds (comparable across processes). */
export type TimelineEvent = [TimelineKind, number];

export interface Leg {
  n: number;
  p50: number;
  p90: number;
}

export interface HubTimeline {
  there: Leg;
  back: Leg;
}

export function readTimeline(file: string): TimelineEvent[] {
  return JSON.parse(readFileSync(file, 'utf8')) as TimelineEvent[];
}

/** The two legs over the instants inside the given windows (epoch ms, start and end). */
export function hubLegs(events: readonly TimelineEvent[], windows: ReadonlyArray<readonly [number, number]>): HubTimeline {
  const inside = events.filter(([, t]) => windows.some(([from, to]) => t >= from && t <= to));
  const leg = (from: TimelineKind, to: TimelineKind): Leg => {
    const ms: number[] = [];
    for (let i = 0; i + 1 < inside.length; i++) {
      const [a, ta] = inside[i]!;
      const [b, tb] = inside[i + 1]!;
      // Two starts in a row: the end that follows may be either's.
      if (a === from && b === to && inside[i - 1]?.[0] !== from) ms.push(tb - ta);
    }
    return { n: ms.length, p50: percentile(ms, 50), p90: percentile(ms, 90) };
  };
  return { there: leg('in', 'out'), back: leg('back', 'done') };
}
