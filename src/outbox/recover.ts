import type { Statement } from 'better-sqlite3';
import type { ClaimOptions } from './types.js';

export type RecoveryStatement = 'held' | 'expired' | 'endLease' | 'abandon';

export interface AbandonedRow {
  id: string;
  state: string;
  lease_owner: string | null;
  attempts: number;
  paced: number;
  replay_safe: number;
}

/**
 * Inside the claim's transaction: settles jobs whose worker stopped holding them. A lease held by
 * a process known to be dead ends now; an unsent (`queued`) job is then simply claimable again. A
 * `sending` job whose lease ended may or may not have reached the provider: it is sent again only
 * when that cannot apply it twice (the provider dedupes the key it carries, or the tool is
 * idempotent); any other becomes `sent_unconfirmed` for a person to check, never resent blindly.
 * Returns the rows it moved to a final state (their waiters are told).
 */
export function recoverAbandoned(st: Record<RecoveryStatement, Statement>, now: number, o: ClaimOptions): unknown[] {
  if (o.ownerIsDead) {
    const verdicts = new Map<string, boolean>();
    for (const r of st.held.all({ now, limit: o.limit }) as AbandonedRow[]) {
      const owner = r.lease_owner;
      if (owner === null || owner === o.owner) continue;
      const dead = verdicts.get(owner) ?? o.ownerIsDead(owner);
      verdicts.set(owner, dead);
      if (dead) st.endLease.run({ id: r.id, owner, now });
    }
  }
  const settled: unknown[] = [];
  for (const raw of st.expired.all({ now, limit: o.limit })) {
    const r = raw as AbandonedRow;
    const { to, error } = abandonedOutcome(r, o.maxAttempts);
    if (st.abandon.run({ id: r.id, to, error, now }).changes === 1 && to !== 'queued')
      settled.push({ ...r, state: to, last_error: error, last_error_code: null, lease_owner: null, lease_until: null, updated_at: now });
  }
  return settled;
}

/** Where a job whose lease ended mid-send goes, and why (see recoverAbandoned): shared by both stores. */
export function abandonedOutcome(
  r: Pick<AbandonedRow, 'replay_safe' | 'attempts' | 'paced'>,
  maxAttempts: number,
): { to: 'queued' | 'dead' | 'sent_unconfirmed'; error: string } {
  if (r.replay_safe === 0)
    return {
      to: 'sent_unconfirmed',
      error:
        'its worker stopped while sending it: the provider may or may not have applied it, and it takes no idempotency key, so it is not sent again (check, then `switchboard queue retry` it if it was not applied)',
    };
  // The send cut short counts as an attempt: it was not answered 429.
  if (r.attempts - r.paced >= maxAttempts) return { to: 'dead', error: `its worker stopped while sending attempt ${r.attempts - r.paced} of ${maxAttempts}` };
  return { to: 'queued', error: 'its worker stopped while sending it; sent again with the same idempotency key' };
}
