import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export type Wait = (ms: number) => Promise<void>;

export const realWait: Wait = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The failure injection of the kore and http sandbox agents, the same knobs as the upagents
 * marketplace's (agents.ts): by header `x-sandbox-<name>` (an agent entry's `headers`), or in the
 * agent id after `+` (`memory_v1+fail=503+fail-times=2`), which suits values a result may quote
 * (the hub scrubs header values from results, as secrets).
 */
export interface Injection {
  /** The agent id without its `+` spec. */
  id: string;
  /** A knob's value: from the id first, else the header. */
  get(name: string): string | undefined;
}

export function injectionOf(req: Request, rawId: string): Injection {
  const [id, ...spec] = rawId.split('+');
  const fromId = new Map(
    spec.map((kv): [string, string] => {
      const at = kv.indexOf('=');
      return at < 0 ? [kv, ''] : [kv.slice(0, at), kv.slice(at + 1)];
    }),
  );
  return { id: id!, get: (name) => fromId.get(name) ?? req.get(`x-sandbox-${name}`) };
}

/**
 * `latency-ms` (wait first), then `fail` (a status, with `retry-after`, for the first
 * `fail-times` requests of `fail-key`, default the agent id). True when the answer was sent.
 */
export async function injected(inj: Injection, res: Response, o: { wait: Wait; failures: Map<string, number> }): Promise<boolean> {
  const latency = Number(inj.get('latency-ms') ?? 0);
  if (latency > 0) await o.wait(latency);
  if (res.destroyed) return true;
  const fail = Number(inj.get('fail') ?? 0);
  if (fail < 400) return false;
  const key = inj.get('fail-key') ?? inj.id;
  const times = inj.get('fail-times');
  const seen = o.failures.get(key) ?? 0;
  if (times !== undefined && seen >= Number(times)) return false;
  o.failures.set(key, seen + 1);
  const retryAfter = inj.get('retry-after');
  if (retryAfter) res.set('retry-after', retryAfter);
  res.status(fail).json({ error: { type: 'injected', message: `the sandbox was asked to answer ${fail}` } });
  return true;
}

/** Whether `Authorization: Bearer <key>` names one of `keys` (compared in constant time). */
export function authorized(header: string | undefined, keys: readonly Buffer[]): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  // Lengths first: timingSafeEqual throws on unequal lengths.
  return keys.some((k) => k.length === given.length && timingSafeEqual(k, given));
}
