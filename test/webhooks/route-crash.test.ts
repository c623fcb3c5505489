import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { openDb } from '../../src/store/db.js';
import { CLI, eventually, tmpDir } from '../helpers/hub.js';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ACME, ACME_SECRET, standardHeaders, tokens } from './route-harness.js';

/** Starts `switchboard serve` on a port the OS picks; resolves with its origin once it serves. */
function serve(config: string, data: string): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--data', data, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn' },
  });
  child.stderr!.resume();
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      const m = /serving MCP at (http:\/\/[^/]+)\/mcp/.exec(l);
      if (m) resolve({ child, origin: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

const TOTAL = 3000;
const KILL_AFTER = 600;
const CONCURRENCY = 40;

describe('a serve hub SIGKILLed during a load of deliveries', () => {
  let dir: ReturnType<typeof tmpDir>;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    dir.remove();
  });

  it('after a restart on the same data dir every delivery that got a 2xx is one event, processed once', { timeout: 120_000 }, async () => {
    const config = join(dir.path, 'switchboard.config.json');
    const data = join(dir.path, 'data');
    const settings = {
      integrations: {
        sandbox: { disabled: true },
        acme: { ...ACME, webhooks: { scheme: 'standard-webhooks', secrets: [ACME_SECRET], accountFrom: 'body:account_id' } },
      },
    };
    writeFileSync(config, JSON.stringify(settings));
    // A user linked to the provider account the load names, so its events are routed (an unroutable one goes dead unhandled).
    const setup = new Hub({ config: configSchema.parse({ ...settings, dataDir: data }), log: silentLogger() });
    await setup.start();
    const linked = await setup.integrations.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'acme',
      tokens: tokens(1),
      scopes: [],
      accountId: 'acct-load',
    });
    await setup.stop();
    const first = await serve(config, data);
    children.push(first.child);
    const acked = new Map<string, string>();
    let next = 0;
    let killed = false;
    const exited = new Promise<NodeJS.Signals | null>((r) => first.child.once('exit', (_code, signal) => r(signal)));
    const sender = async () => {
      while (!killed && next < TOTAL) {
        const n = next++;
        const id = `msg_${n}`;
        const body = JSON.stringify({ id: `evt_${n}`, type: 'load.tick', account_id: 'acct-load', n });
        try {
          const res = await fetch(`${first.origin}/webhooks/acme`, { method: 'POST', headers: standardHeaders(ACME_SECRET, id, body), body });
          if (res.status === 200) acked.set(id, ((await res.json()) as { id: string }).id);
          else await res.body?.cancel();
        } catch {
          // The process died with this request in flight: no answer, so no promise was made.
        }
        if (!killed && acked.size >= KILL_AFTER) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));
    expect(await exited).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(next).toBeLessThan(TOTAL);

    const second = await serve(config, data);
    children.push(second.child);
    const db = openDb({ file: join(data, 'switchboard.db'), clock: manualClock() });
    try {
      // The new worker finishes everything: what was waiting, and at once what the killed worker
      // held (its lease names a process that is gone), without waiting out the 5-minute lease.
      await eventually(() => (db.prepare("SELECT count(*) FROM inbox_events WHERE state <> 'done'").pluck().get() === 0 ? true : undefined), 30_000);
      const deliveries = new Map(
        z
          .array(z.object({ delivery_id: z.string(), event_id: z.string() }))
          .parse(db.prepare("SELECT delivery_id, event_id FROM webhook_deliveries WHERE integration = 'acme'").all())
          .map((d) => [d.delivery_id, d.event_id]),
      );
      const events = new Map(
        z
          .array(z.object({ id: z.string(), state: z.string(), attempts: z.number(), connection_id: z.string().nullable() }))
          .parse(db.prepare("SELECT id, state, attempts, connection_id FROM inbox_events WHERE integration = 'acme'").all())
          .map((e) => [e.id, e]),
      );
      let reclaimed = 0;
      for (const [delivery, eventId] of acked) {
        expect(deliveries.get(delivery), delivery).toBe(eventId);
        const e = events.get(eventId);
        expect(e, delivery).toMatchObject({ state: 'done', connection_id: linked.id });
        // Claimed once, or twice when the killed worker held it (its effect may have run: at least once).
        expect([1, 2], delivery).toContain(e!.attempts);
        if (e!.attempts === 2) reclaimed++;
      }
      // At most the batch the killed worker had claimed (64) was claimed again.
      expect(reclaimed).toBeLessThanOrEqual(64);
      // One event per delivery id: the dedupe held across the crash.
      expect(events.size).toBe(deliveries.size);
    } finally {
      db.close();
      second.child.kill('SIGTERM');
    }
  });
});
