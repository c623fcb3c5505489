import type { Clock } from '../clock.js';
import { WakeLoop } from '../lifecycle.js';
import { setMaxListeners } from 'node:events';
import { describeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { newOwnerId, ownerIsDead } from '../oauth/owner.js';
import { backoffMs } from './backoff.js';
import { classifyError, classifyResponse, type SendOutcome, type Verdict } from './classify.js';
import type { JobEvents } from './events.js';
import type { Job, JobState, OpenJob, OutboxQueue } from './types.js';

/** Sends one job to its provider (the wiring passes one that sends the job id in the integration's idempotency header). */
export type SendFn = (job: OpenJob, signal: AbortSignal) => Promise<SendOutcome>;

export const DEFAULT_MAX_ATTEMPTS = 8;
/**
 * A 429 is the provider pacing the hub, not a failure (STYLE.md §7), so it spends no attempt of
 * `maxAttempts`. A provider answering 429 forever must still end the job: every send, 429s
 * included, counts toward this larger cap. It is read from the stored send count, so it holds
 * across restarts and processes; with backoff capped at 5 min it ends such a job within ~3 h
 * (longer only if the provider's own Retry-After asks for it).
 */
export const DEFAULT_MAX_SENDS = 32;
/** Bound on the in-memory 429 counts (jobs that moved to another process are never finished here). */
const MAX_PACED_ENTRIES = 10_000;

/** Whether a claimed job may be sent now; if not, when to claim it again. */
export type Readiness = { ok: true } | { ok: false; retryAt: number };
const GO: Readiness = { ok: true };
/** A provider's Retry-After is honoured up to this; past it the job waits this long and asks again. */
const MAX_RETRY_AFTER_MS = 3_600_000;

export interface OutboxWorkerOptions {
  queue: OutboxQueue;
  events: JobEvents;
  clock: Clock;
  log: Logger;
  /** Until one is given (`useSender`), the worker claims nothing: jobs wait in the queue. */
  send?: SendFn;
  owner?: string;
  ownerIsDead?: (owner: string) => boolean;
  /** A send must end within its lease, else the job is recovered as abandoned mid-send. */
  leaseMs?: number;
  maxAttempts?: number;
  /** Sends in all, 429s included, after which a job is dead (DEFAULT_MAX_SENDS). */
  maxSends?: number;
  /**
   * Asked right before a claimed job is sent (the wiring answers from the integration's circuit
   * breaker). A job that may not go is released until `retryAt`: still `queued`, no attempt spent.
   * Asked in claim order, synchronously, so a half-open breaker's one probe is the first job.
   */
  ready?: (job: OpenJob) => Readiness;
  batchSize?: number;
  idleMs?: number;
  backoffMs?: (attempt: number) => number;
  /** How long `stop` waits for sends in flight before aborting them (their jobs are then recovered like a crash's). */
  stopGraceMs?: number;
}

/**
 * Sends the outbox: claims due jobs with a lease, asks whether each may go (the integration's
 * breaker), commits `sending` before each request leaves, and records the outcome with guarded
 * updates (retry at a stored time, failed, dead, done). Only a request that left is an attempt.
 */
export class OutboxWorker {
  readonly owner: string;
  private send: SendFn | undefined;
  private ready: ((job: OpenJob) => Readiness) | undefined;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly maxSends: number;
  private readonly batchSize: number;
  /**
   * 429s this worker was answered per job, taken from the stored sends to count attempts. In memory
   * (the job table counts sends only): a job that reaches another process, or outlives this one,
   * has its earlier 429s counted as attempts there, so it can end sooner than it should, never later.
   */
  private readonly paced = new Map<string, number>();
  private readonly aborter = new AbortController();
  private readonly loop: WakeLoop;

  constructor(private readonly o: OutboxWorkerOptions) {
    this.owner = o.owner ?? newOwnerId();
    this.send = o.send;
    this.ready = o.ready;
    this.leaseMs = o.leaseMs ?? 120_000;
    this.maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.maxSends = Math.max(this.maxAttempts, o.maxSends ?? DEFAULT_MAX_SENDS);
    this.batchSize = o.batchSize ?? 16;
    // Every send of a batch listens on this one signal (fetch, the pacer): more than Node's default of 10.
    setMaxListeners(Math.max(10, this.batchSize * 4), this.aborter.signal);
    this.loop = new WakeLoop({
      runOnce: () => this.runOnce(),
      batchSize: this.batchSize,
      idleMs: o.idleMs ?? 1_000,
      onError: (err) => this.o.log.error({ err: describeError(err) }, 'the outbox worker could not claim or record jobs; it tries again'),
    });
  }

  useSender(send: SendFn): void {
    this.send = send;
    this.wake();
  }

  /** Sets the check asked before each send (see `OutboxWorkerOptions.ready`); the wiring hands it in with the sender. */
  useReady(ready: (job: OpenJob) => Readiness): void {
    this.ready = ready;
  }

  /** Claims one batch and sends it; how many jobs it claimed or settled. */
  async runOnce(): Promise<number> {
    const send = this.send;
    if (send === undefined) return 0;
    const { jobs, settled } = await this.o.queue.claim({
      owner: this.owner,
      limit: this.batchSize,
      leaseMs: this.leaseMs,
      maxAttempts: this.maxAttempts,
      ownerIsDead: this.o.ownerIsDead ?? ownerIsDead,
    });
    for (const j of settled) {
      this.o.log.warn(
        { job: j.id, integration: j.integration, tool: j.tool, state: j.state },
        'an outbound job was abandoned mid-send by a worker that stopped',
      );
      this.o.events.publish(j);
    }
    // Jobs of one ordering key are never in one batch (the claim holds back all but the first).
    await Promise.all(jobs.map((j) => this.handle(j, send)));
    return jobs.length + settled.length;
  }

  /** Runs batches until nothing is due (tests; a hub catching up). */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.runOnce(); n > 0; n = await this.runOnce()) total += n;
    return total;
  }

  private async handle(job: OpenJob, send: SendFn): Promise<void> {
    const gate = this.ready?.(job) ?? GO;
    if (!gate.ok) {
      // Not sent, so not an attempt: the job goes back as it was, due again when the gate says.
      await this.o.queue.release(job.id, this.owner, Math.max(gate.retryAt, this.o.clock.now()));
      return;
    }
    // Committed before the request leaves: a crash from here on is recovered as "maybe sent".
    if (!(await this.o.queue.markSent(job.id, this.owner, this.leaseMs))) return; // cancelled, or taken by another worker
    const sending: OpenJob = { ...job, state: 'sending', attempts: job.attempts + 1 };
    let verdict: Verdict;
    let outcome: SendOutcome | undefined;
    try {
      outcome = await send(sending, this.aborter.signal);
      verdict = classifyResponse(outcome, job.sensitive);
    } catch (err) {
      verdict = classifyError(err, job.replaySafe, job.sensitive);
    }
    await this.record(sending, verdict, outcome);
  }

  private async record(job: OpenJob, v: Verdict, outcome: SendOutcome | undefined): Promise<void> {
    const q = this.o.queue;
    const result = outcome === undefined ? undefined : { status: outcome.status, body: outcome.body };
    let to: JobState | false;
    const paced = v.kind === 'retry' && v.paced === true;
    const spent = job.attempts - this.countPaced(job.id, paced);
    const exhausted = v.kind === 'retry' && (job.attempts >= this.maxSends || (!paced && spent >= this.maxAttempts));
    const error: string | null =
      v.kind === 'done'
        ? null
        : !exhausted
          ? v.error
          : job.attempts >= this.maxSends
            ? `${v.error} (send ${job.attempts} of at most ${this.maxSends}, 429s included; no more retries)`
            : `${v.error} (attempt ${spent} of ${this.maxAttempts}; no more retries)`;
    const kept = result ? { result } : {};
    if (v.kind === 'done') to = (await q.complete(job.id, this.owner, result!)) && 'done';
    else if (v.kind === 'unconfirmed') to = (await q.unconfirmed(job.id, this.owner, v.error)) && 'sent_unconfirmed';
    else if (v.kind === 'fail') to = await q.fail(job.id, this.owner, { error: v.error, retryAt: 'never', ...kept });
    else if (exhausted) to = await q.fail(job.id, this.owner, { error: error!, retryAt: 'never', exhausted: true, ...kept });
    else {
      const delay = v.retryAfterMs !== undefined ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, v.retryAfterMs)) : (this.o.backoffMs ?? backoffMs)(job.attempts);
      to = await q.fail(job.id, this.owner, { error: v.error, retryAt: this.o.clock.now() + delay });
      if (to)
        this.o.log.info(
          { job: job.id, integration: job.integration, attempt: spent, sends: job.attempts, retryInMs: delay, error },
          'an outbound write will be sent again',
        );
    }
    if (to !== 'queued') this.paced.delete(job.id);
    if (to === false) {
      this.o.log.warn({ job: job.id, integration: job.integration }, 'an outbound job was finished after its lease passed to another worker');
      return;
    }
    if (to === 'dead' || to === 'failed' || to === 'sent_unconfirmed')
      this.o.log.warn({ job: job.id, integration: job.integration, tool: job.tool, state: to, error }, 'an outbound write did not complete');
    const { arguments: _a, result: _r, ...plain } = job;
    const finished: Job = { ...plain, state: to, lastError: error, updatedAt: this.o.clock.now() };
    this.o.events.publish(finished);
  }

  /** The 429s this worker has seen for a job, counting this answer when it is one. */
  private countPaced(id: string, paced: boolean): number {
    const n = (this.paced.get(id) ?? 0) + (paced ? 1 : 0);
    if (!paced) return n;
    this.paced.delete(id);
    // Oldest first (insertion order): an entry left by a job another process finished goes first.
    if (this.paced.size >= MAX_PACED_ENTRIES) this.paced.delete(this.paced.keys().next().value!);
    this.paced.set(id, n);
    return n;
  }

  start(): void {
    this.loop.start();
  }

  /** New jobs were queued in this process: look now rather than at the next idle tick. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming and lets the sends in flight finish, aborting them after the grace period. */
  async stop(): Promise<void> {
    const grace = setTimeout(() => this.aborter.abort(), this.o.stopGraceMs ?? 15_000);
    grace.unref();
    await this.loop.stop();
    clearTimeout(grace);
  }
}
