/**
 * Why a write call's wait ended decides its job (README, Outbound writes): the caller's own cancel
 * cancels a job not yet sent; a caller that went away without cancelling (a 2025 connection
 * closed: CallerGone, "a disconnection is not a cancellation") and a hub that begins to stop leave
 * it queued, and the call answers with the job's handle. Alice and bob wait side by side on a real
 * SQLite outbox whose worker never runs, so every job stays unsent.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { HubError } from '../../src/errors.js';
import { awaitWrite } from '../../src/integrations/outbound.js';
import { CallerGone, type CallContext } from '../../src/mcp/source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { OutboxService } from '../../src/outbox/service.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

const users: readonly string[] = ['alice', 'bob'];

describe('a write call whose wait is cut short', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let service: OutboxService;
  let box: SqliteOutbox;

  beforeEach(() => {
    dir = tmpDir();
    const clock = manualClock();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    box = new SqliteOutbox(db, clock);
    service = new OutboxService({ outbox: box, clock, log: silentLogger(), settings: { waitMs: 60_000 } });
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  /** Each user's write, queued, and its call waiting on `signal`. */
  const waitBoth = async (signal: (user: string) => AbortSignal) =>
    Promise.all(
      users.map(async (user) => {
        const { job } = await service.outbox.enqueue({
          tenant: 'default',
          user,
          connectionId: `con_${user}`,
          integration: 'notes',
          tool: 'create',
          arguments: { text: user },
        });
        const ctx: CallContext = { identity: { tenant: 'default', user, scopes: ['mcp'] }, signal: signal(user), notify: async () => {} };
        const call = awaitWrite({ outbox: service, job, ctx, title: 'Notes', qualified: 'notes__create', request: { method: 'POST', path: '/notes' } });
        return {
          user,
          job,
          call: call.then(
            (r) => ({ ok: r }),
            (err: unknown) => ({ err }),
          ),
        };
      }),
    );
  const stateOf = async (id: string, user: string) => (await service.outbox.get(id, { tenant: 'default', user }))?.state;

  it("leaves the job queued when the caller went away without cancelling, and cancels it on the caller's cancel", async () => {
    const controllers = new Map(users.map((u) => [u, new AbortController()]));
    const calls = await waitBoth((u) => controllers.get(u)!.signal);
    controllers.get('alice')!.abort(new CallerGone('the client closed the connection'));
    controllers.get('bob')!.abort(new Error('cancelled by the client'));
    const [alice, bob] = await Promise.all(calls.map(async (c) => ({ ...c, out: await c.call })));

    expect(alice!.out).toEqual({
      ok: {
        content: [{ type: 'text', text: expect.stringContaining('still in the outbound queue') }],
        structuredContent: { jobId: alice!.job.id, state: 'queued' },
      },
    });
    expect(await stateOf(alice!.job.id, 'alice')).toBe('queued');
    expect('err' in bob!.out && bob!.out.err instanceof HubError && bob!.out.err.code).toBe('cancelled');
    expect(await stateOf(bob!.job.id, 'bob')).toBe('cancelled');
  });

  it('answers every waiting call with its handle once the hub begins to stop, and cancels none, whatever their connections do next', async () => {
    const controllers = new Map(users.map((u) => [u, new AbortController()]));
    const calls = await waitBoth((u) => controllers.get(u)!.signal);
    await service.beginStop();
    // The stopping hub's faces close the connections after that: too late to read as a cancel.
    for (const c of controllers.values()) c.abort(new Error('the client closed the connection'));
    for (const c of calls) {
      expect(await c.call).toEqual({
        ok: {
          content: [{ type: 'text', text: expect.stringContaining('this Switchboard process is stopping') }],
          structuredContent: { jobId: c.job.id, state: 'queued' },
        },
      });
      expect(await stateOf(c.job.id, c.user)).toBe('queued');
    }
  });

  it('a dozen calls waiting at once on the process\u2019s stop signal raise no listener-leak warning, and each gets its own handle at the stop', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const calls = (await Promise.all(Array.from({ length: 6 }, () => waitBoth(() => new AbortController().signal)))).flat();
      expect(calls).toHaveLength(12);
      await service.beginStop();
      for (const c of calls) expect(await c.call).toMatchObject({ ok: { structuredContent: { jobId: c.job.id, state: 'queued' } } });
      // The warning is emitted on a later tick.
      await new Promise<void>((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('tells a call whose job was already at the provider when the hub began to stop that it was being sent, not that it stays queued', async () => {
    const calls = await waitBoth(() => new AbortController().signal);
    const [alice, bob] = calls;
    await box.claim({ owner: 'worker', limit: 10, leaseMs: 60_000, maxAttempts: 3 });
    expect(await box.markSent(alice!.job.id, 'worker', 60_000)).toBe(true);
    await service.beginStop();
    expect(await alice!.call).toEqual({
      ok: {
        content: [
          {
            type: 'text',
            text: `notes__create was being sent when this Switchboard process stopped (job ${alice!.job.id}). Call queue__job_status with {"jobId":"${alice!.job.id}"} to see its outcome.`,
          },
        ],
        structuredContent: { jobId: alice!.job.id, state: 'sending' },
      },
    });
    expect(await bob!.call).toEqual({
      ok: {
        content: [{ type: 'text', text: expect.stringContaining('the job stays queued for the next one to send') }],
        structuredContent: { jobId: bob!.job.id, state: 'queued' },
      },
    });
  });
});
