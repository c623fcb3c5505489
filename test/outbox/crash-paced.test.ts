import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { runFixture } from '../helpers/child-run.js';
import { ROOT, tmpDir } from '../helpers/hub.js';

const FIXTURE = join(ROOT, 'dist/test/fixtures/outbox-paced-load.js');
const LEASE_MS = 30_000; // PACED_FIXTURE_LEASE_MS

const jobRow = z.object({ id: z.string(), state: z.string(), lease_owner: z.string().nullable(), received: z.number().nullable() });

describe('SIGKILL while claimed jobs wait for their pacing token', () => {
  let dir: ReturnType<typeof tmpDir>;
  let file: string;
  beforeEach(() => {
    dir = tmpDir();
    file = join(dir.path, 'switchboard.db');
  });
  afterEach(() => dir.remove());

  const rows = () => {
    const db = openDb({ file, clock: manualClock() });
    try {
      const all = db
        .prepare('SELECT j.id, j.state, j.lease_owner, p.received FROM outbox_jobs j LEFT JOIN fixture_provider p ON p.idempotency_key = j.id')
        .all();
      return z.array(jobRow).parse(all);
    } finally {
      db.close();
    }
  };

  it('leaves them queued, not sent_unconfirmed: after a restart each is sent and applied once', { timeout: 120_000 }, async () => {
    const first = await run(['send', file, '20'], 3);
    expect(first.signal).toBe('SIGKILL');
    expect(first.lines.filter((l) => l.startsWith('queued '))).toHaveLength(20);

    const atKill = rows();
    // Claimed by the dead worker and waiting for a token: still queued (leased), nothing sent. Were
    // `sending` committed before the token, these would be `sending` and then `sent_unconfirmed`.
    const waiting = atKill.filter((r) => r.state === 'queued' && r.lease_owner !== null);
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    for (const r of waiting) expect(r.received, r.id).toBeNull();
    // Only a request that left can be `sending`: at most the one the kill cut.
    const sending = atKill.filter((r) => r.state === 'sending');
    expect(sending.length).toBeLessThanOrEqual(1);

    // The restart comes after the dead process's leases have expired (its clock is ahead by a lease).
    const second = await run(['drain', file, '--clock-offset-ms', String(LEASE_MS + 1_000)]);
    expect(second.lines.at(-1)).toMatch(/^drained \d+$/);

    const after = rows();
    expect(after).toHaveLength(20);
    for (const r of after) {
      if (sending.some((s) => s.id === r.id)) {
        // Cut after it left (the provider may have it): shown, never resent blindly.
        expect(r, r.id).toMatchObject({ state: 'sent_unconfirmed' });
        expect(r.received ?? 0).toBeLessThanOrEqual(1);
      } else {
        expect(r, r.id).toMatchObject({ state: 'done', received: 1 });
      }
    }
    // The ones that waited for their token at the kill were sent by the restarted worker, once each.
    for (const w of waiting) expect(after.find((r) => r.id === w.id)).toMatchObject({ state: 'done', received: 1 });
  });
});

/** Runs the fixture; `killAfterSends` SIGKILLs it once that many 'sent' lines were printed. */
function run(args: string[], killAfterSends?: number) {
  return runFixture(FIXTURE, args, killAfterSends === undefined ? undefined : { prefix: 'sent ', after: killAfterSends });
}
