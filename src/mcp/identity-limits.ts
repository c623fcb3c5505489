import { within } from '../within.js';
import type { Response } from 'express';
import { jsonRpcCodeOf, jsonRpcHttpError, sendError } from '../errors.js';

/** JSON-RPC error code of a per-identity limit refusal (HTTP 429), in the implementation-defined range. */
export const LIMIT_REACHED = jsonRpcCodeOf('limit_reached');

export interface IdentityLimits {
  sessionsPerIdentity: number;
  streamsPerIdentity: number;
  /** POST /mcp requests being answered (calls, lists, reads; listen streams count as streams). */
  requestsPerIdentity: number;
}

export type LimitName = keyof IdentityLimits;

export const DEFAULT_LIMITS: IdentityLimits = { sessionsPerIdentity: 100, streamsPerIdentity: 100, requestsPerIdentity: 100 };

const WHAT: Record<LimitName, string> = { sessionsPerIdentity: 'open sessions', streamsPerIdentity: 'open streams', requestsPerIdentity: 'requests in flight' };

/** Answers 429 with a body that names the limit and the setting that raises it. */
export function refuseOverLimit(res: Response, limit: LimitName, max: number, id: string | number | null, hint: string): void {
  const setting = `server.limits.${limit}`;
  const message = `Too many ${WHAT[limit]} for this identity: the limit is ${max} (${setting}). ${hint}`;
  sendError(res, jsonRpcHttpError('limit_reached', message, { id, data: { limit, setting, max } }));
}

/**
 * Open long-lived streams (or requests in flight) per identity. One is counted from `acquire` until
 * its response closes, however it ends (answered, client gone, session closed, revocation), so the
 * count cannot leak.
 */
export class StreamCounter {
  private readonly open = new Map<string, number>();
  private total = 0;
  private readonly idle: Array<() => void> = [];

  acquire(key: string, res: Response, max: number): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= max) return false;
    this.open.set(key, n + 1);
    this.total++;
    res.once('close', () => {
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
      if (--this.total === 0) for (const done of this.idle.splice(0)) done();
    });
    return true;
  }

  /** Resolves once nothing counted is open, or after `ms`, whichever comes first. */
  settled(ms: number): Promise<void> {
    if (this.total === 0) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.idle.push(resolve)), ms, undefined);
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
