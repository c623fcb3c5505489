/**
 * A write held by its integration's open circuit says so (issue 9 scope 4: "a message that says why
 * and when it retries"): the worker gives such a job back unsent until the circuit retries, and the
 * caller, who keeps waiting as the README says, then gets the handle naming the open circuit and its
 * retry time; queue__job_status shows the same. A real SQLite outbox whose worker never runs, a
 * real breaker on a manual clock.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { awaitWrite } from '../../src/integrations/outbound.js';
import { CallerGone, type CallContext } from '../../src/mcp/source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { QueueSource } from '../../src/outbox/queue-source.js';
import { OutboxService } from '../../src/outbox/service.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { openDb, type Db } from '../../src/store/db.js';
import { tmpDir } from '../helpers/hub.js';

describe('a queued write while its integration circuit is open', () => {
  let dir: ReturnType<typeof tmpDir>;
  let db: Db;
  let service: OutboxService;
  const clock = manualClock(Date.UTC(2026, 0, 1, 12));
  let breakers: CircuitBreakers;

  beforeEach(() => {
    dir = tmpDir();
    db = openDb({ file: join(dir.path, 'switchboard.db'), clock });
    service = new OutboxService({ outbox: new SqliteOutbox(db, clock), clock, log: silentLogger(), settings: { waitMs: 60_000 } });
    breakers = new CircuitBreakers({ clock, threshold: 5, coolDownMs: 30_000 });
    breakers.add('notes');
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  /** Alice's write, queued, and its call ended without an answer (the caller's connection went away). */
  const write = async () => {
    const { job } = await service.outbox.enqueue({
      tenant: 'default',
      user: 'alice',
      connectionId: 'con_a',
      integration: 'notes',
      tool: 'create',
      arguments: {},
    });
    const gone = new AbortController();
    const ctx: CallContext = { identity: { tenant: 'default', user: 'alice', scopes: ['mcp'] }, signal: gone.signal, notify: async () => {} };
    const call = awaitWrite({
      outbox: service,
      job,
      ctx,
      title: 'Notes',
      qualified: 'notes__create',
      request: { method: 'POST', path: '/notes' },
      circuits: breakers,
    });
    gone.abort(new CallerGone('closed'));
    return { job, result: await call };
  };
  const status = async (jobId: string) => {
    const ctx: CallContext = { identity: { tenant: 'default', user: 'alice', scopes: ['mcp'] }, signal: new AbortController().signal, notify: async () => {} };
    return (await new QueueSource(service, clock, true, breakers).callTool('job_status', { jobId }, ctx)).structuredContent;
  };

  it('the handle and queue__job_status name the open circuit and when it retries; closed, they say nothing of it', async () => {
    const closed = await write();
    expect(closed.result.structuredContent).toEqual({ jobId: closed.job.id, state: 'queued' });
    expect(await status(closed.job.id)).not.toHaveProperty('circuit');

    for (let i = 0; i < 5; i++) breakers.record('notes', { kind: 'status', status: 503 });
    const retryAt = new Date(clock.now() + 30_000).toISOString();
    const circuit = {
      state: 'open',
      failures: 5,
      retryAt,
      message: `notes is failing (its circuit is open after 5 consecutive 5xx answers, timeouts or network errors), so its writes are paused; it retries at ${retryAt}`,
    };
    const held = await write();
    expect(held.result).toEqual({
      content: [
        {
          type: 'text',
          text: `notes__create is still in the outbound queue (job ${held.job.id}, queued): ${circuit.message}. Call queue__job_status with {"jobId":"${held.job.id}"} to see its outcome.`,
        },
      ],
      structuredContent: { jobId: held.job.id, state: 'queued', circuit },
    });
    expect(await status(held.job.id)).toEqual(expect.objectContaining({ jobId: held.job.id, state: 'queued', attempts: 0, circuit }));

    // Past the cool-down the circuit half-opens: a probe is under way, with no time to promise.
    clock.advance(30_000);
    expect(await status(held.job.id)).toEqual(
      expect.objectContaining({ circuit: expect.objectContaining({ state: 'half_open', message: expect.stringContaining('a probe is under way') }) }),
    );
    breakers.record('notes', { kind: 'status', status: 201 });
    expect(await status(held.job.id)).not.toHaveProperty('circuit');
  });
});
