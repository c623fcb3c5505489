import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { runFixture } from '../helpers/child-run.js';
import { ROOT, tmpDir } from '../helpers/hub.js';

const FIXTURE = join(ROOT, 'dist/test/fixtures/inbox-load.js');
const LEASE_MS = 30_000; // FIXTURE_LEASE_MS

/** Runs the fixture; `killAfterAcks` SIGKILLs it once that many 'ack' lines were printed. */
function run(args: string[], killAfterAcks?: number) {
  return runFixture(FIXTURE, args, killAfterAcks === undefined ? undefined : { prefix: 'ack ', after: killAfterAcks });
}

const eventRow = z.object({ id: z.string(), state: z.string(), runs: z.number().nullable() });

describe('the inbox survives SIGKILL during a load of deliveries', () => {
  let dir: ReturnType<typeof tmpDir>;
  let file: string;
  beforeEach(() => {
    dir = tmpDir();
    file = join(dir.path, 'switchboard.db');
  });
  afterEach(() => dir.remove());

  it('every acknowledged delivery is stored once and processed once after a restart; an effect ran twice at most for the batch in hand', {
    timeout: 120_000,
  }, async () => {
    const first = await run(['accept', file, '5000'], 400);
    expect(first.signal).toBe('SIGKILL');
    expect(first.lines).not.toContain('accepted all');
    const acked = new Map<string, string>();
    for (const l of first.lines.filter((x) => x.startsWith('ack '))) {
      const [, delivery, a, b] = l.split(' ');
      // Both copies of a delivery were answered with the one event.
      expect(a).toBe(b);
      acked.set(delivery!, a!);
    }
    expect(acked.size).toBeGreaterThanOrEqual(400);

    // The restart comes after the dead process's leases have expired (its clock is ahead by a lease).
    const second = await run(['drain', file, '--clock-offset-ms', String(LEASE_MS + 1_000)]);
    expect(second.code).toBe(0);
    expect(second.lines.at(-1)).toMatch(/^drained \d+$/);

    const db = openDb({ file, clock: manualClock() });
    try {
      const rows = z
        .array(eventRow)
        .parse(db.prepare('SELECT e.id, e.state, f.runs FROM inbox_events e LEFT JOIN fixture_effects f ON f.event_id = e.id').all());
      const byId = new Map(rows.map((r) => [r.id, r]));
      const deliveries = new Map(
        z
          .array(z.object({ delivery_id: z.string(), event_id: z.string() }))
          .parse(db.prepare('SELECT delivery_id, event_id FROM webhook_deliveries').all())
          .map((d) => [d.delivery_id, d.event_id]),
      );
      for (const [delivery, eventId] of acked) {
        expect(deliveries.get(delivery), delivery).toBe(eventId);
        expect(byId.get(eventId), delivery).toMatchObject({ state: 'done', runs: expect.any(Number) });
      }
      // One row per delivery (acknowledged or not), all of them done, none left leased.
      expect(rows.length).toBe(deliveries.size);
      expect(rows.filter((r) => r.state !== 'done')).toEqual([]);
      // Handlers are at-least-once: the worker marks a batch done in one commit, so only the events
      // of the batch in hand at the kill (the fixture's batch is 16) can have run their effect twice.
      const twice = rows.filter((r) => (r.runs ?? 0) > 1);
      expect(twice.length).toBeLessThanOrEqual(16);
      expect(rows.every((r) => (r.runs ?? 0) <= 2)).toBe(true);
      expect(rows.every((r) => (r.runs ?? 0) >= 1)).toBe(true);
    } finally {
      db.close();
    }
  });
});
