import type { Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { newOwnerId, ownerIsDead } from '../oauth/owner.js';
import { backoffMs } from './backoff.js';
import { realTimers, type Timers } from './pacing/bucket.js';
import { classifyError, classifyResponse, type SendOutcome, type Verdict } from './classify.js';
import type { JobEvents } from './events.js';
import { JobLease, type LeaseDeps } from './lease.js';
import { giveBackAfter, TOKEN_WAIT_MS, type TokenSlot } from './token-wait.js';
import type { Job, JobState, OpenJob, OutboxQueue } from './types.js';
import { RepeatedFailure } from '../observability/repeated-failure.js';

/**
 * Sends one job to its provider (the wiring passes one that sends the job id in the integration's
 * idempotency header). It calls `beforeSend` once its pacing token is granted and right before its
 * first request leaves: that commits `sending`, so a job still waiting for its token stays
 * `queued` (cancellable; after a crash, resent rather than `sent_unconfirmed`). `beforeSend`
 * rejects with `JobNotSent` when the job was cancelled or its lease taken meanwhile: the send must
 * then send nothing. A send that never calls it is taken to have sent nothing until it settled.
 */
export type SendFn = (job: OpenJob, signal: AbortSignal, beforeSend: () => Promise<void>) => Promise<SendOutcome>;

/** `beforeSend` found the job no longer leased and queued (cancelled, or taken by another worker): nothing may be sent. */
export class JobNotSent extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} was not sent: it was cancelled or lost its lease while it waited for its turn`);
    this.name = 'JobNotSent';
  }
}

/** A send of the running worker: `marked` once it began to commit `sending` (its request may leave). */
type InFlight = TokenSlot;

export const DEFAULT_MAX_ATTEMPTS = 8;
/**
 * A 429 is the provider pacing the hub, not a failure (STYLE.md §7), so it spends no attempt of
 * `maxAttempts`. A provider answering 429 forever must still end the job: every send, 429s
 * included, counts toward this larger cap. It is read from the stored send count, so it holds
 * across restarts and processes; with backoff capped at 5 min it ends such a job within ~3 h
 * (longer only if the provider's own Retry-After asks for it).
 */
export const DEFAULT_MAX_SENDS = 32;

/** Whether a claimed job may be sent now; if not, when to claim it again. */
export type Readiness = { ok: true } | { ok: false; retryAt: number };
const GO: Readiness = { ok: true };
/** A provider's Retry-After is honoured up to this; past it the job waits this long and asks again. */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** A shorter Retry-After is no wait at all: the job backs off as without one. */
const MIN_RETRY_AFTER_MS = 1_000;

export interface OutboxWorkerOptions {
  queue: OutboxQueue;
  events: JobEvents;
  clock: Clock;
  log: Logger;
  /** Until one is given (`useSender`), the worker claims nothing: jobs wait in the queue. */
  send?: SendFn;
  owner?: string;
  ownerIsDead?: (owner: string) => boolean;
  /**
   * How long a claim holds a job, and a `sending` job past its last renewal: while its request is
   * open the worker renews the lease every third of it, so only a worker that stopped loses it.
   */
  leaseMs?: number;
  /** The renewal timer (tests pass ones driven by their clock). */
  timers?: Timers;
  maxAttempts?: number;
  /** Sends in all, 429s included, after which a job is dead (DEFAULT_MAX_SENDS). */
  maxSends?: number;
  /**
   * Asked right before a claimed job is sent (the wiring answers from the integration's circuit
   * breaker). A job that may not go is released until `retryAt`: still `queued`, no attempt spent.
   * Asked in claim order, synchronously, so a half-open breaker's one probe is the first job. A
   * shared breaker answers with a Promise: its asks still leave in claim order on one Redis
   * connection, which runs them in that order.
   */
  ready?: (job: OpenJob) => Readiness | Promise<Readiness>;
  /** Jobs claimed by one claim at most, and so by `runOnce`. */
  batchSize?: number;
  /** Jobs held at once by the running worker (claimed and not yet recorded); default 2 × batchSize. */
  maxInFlight?: number;
  /** Between looks for jobs nothing woke it for (due retries, other processes' jobs). */
  idleMs?: number;
  backoffMs?: (attempt: number) => number;
  /** How long `stop` waits for sends in flight before aborting them (their jobs are then recovered like a crash's). */
  stopGraceMs?: number;
  /** How long a claimed job waits for its pacing token before it gives its slot back (TOKEN_WAIT_MS). */
  tokenWaitMs?: number;
}

/**
 * Sends the outbox: claims due jobs with a lease, asks whether each may go (the integration's
 * breaker), commits `sending` once its pacing token is granted, right before its request leaves,
 * and records the outcome with guarded updates (retry at a stored time, failed, dead, done). Only
 * a request that left is an attempt.
 */
export class OutboxWorker {
  readonly owner: string;
  private send: SendFn | undefined;
  private ready: ((job: OpenJob) => Readiness | Promise<Readiness>) | undefined;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly maxSends: number;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly idleMs: number;
  private readonly tokenWaitMs: number;
  /** A claim that fails on every tick (the store away) is logged when it starts and when it ends. */
  private readonly claimFailures: RepeatedFailure;
  /**
   * The running worker's sends, each with its own signal and whether it has begun to commit
   * `sending`: a stop aborts the others at once, those past its grace.
   */
  private readonly inFlight = new Map<Promise<void>, InFlight>();
  private started = false;
  /** The claim under way; a wake meanwhile sets `again`, so it is never dropped nor run twice at once. */
  private claiming: Promise<void> | undefined;
  private again = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private jobsClaimedOnIdle = 0;
  private readonly leases: LeaseDeps;

  constructor(private readonly o: OutboxWorkerOptions) {
    this.owner = o.owner ?? newOwnerId();
    this.send = o.send;
    this.ready = o.ready;
    this.leaseMs = o.leaseMs ?? 120_000;
    this.leases = { queue: o.queue, owner: this.owner, leaseMs: this.leaseMs, clock: o.clock, timers: o.timers ?? realTimers, log: o.log };
    this.maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.maxSends = Math.max(this.maxAttempts, o.maxSends ?? DEFAULT_MAX_SENDS);
    this.batchSize = o.batchSize ?? 16;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? this.batchSize * 2);
    this.idleMs = o.idleMs ?? 1_000;
    this.tokenWaitMs = o.tokenWaitMs ?? TOKEN_WAIT_MS;
    this.claimFailures = new RepeatedFailure(o.log, 'the outbox worker could not claim jobs');
  }

  /**
   * Jobs the running worker claimed at an idle tick, with nothing having woken it for them: due
   * retries, jobs of other processes. A job queued, or freed by its predecessor in order, in this
   * process is claimed on a wake instead (tests read this to see that no such job waited a tick).
   */
  get claimedOnIdle(): number {
    return this.jobsClaimedOnIdle;
  }

  useSender(send: SendFn): void {
    this.send = send;
    this.wake();
  }

  /** Sets the check asked before each send (see `OutboxWorkerOptions.ready`); the wiring hands it in with the sender. */
  useReady(ready: (job: OpenJob) => Readiness | Promise<Readiness>): void {
    this.ready = ready;
  }

  /** Claims one batch and sends it, waiting for every send; how many jobs it claimed or settled (tests, `drain`). */
  async runOnce(): Promise<number> {
    const send = this.send;
    if (send === undefined) return 0;
    const { jobs, settled } = await this.claim(this.batchSize);
    // Jobs of one ordering key are never in one batch (the claim holds back all but the first).
    await Promise.all(jobs.map((j) => this.handle(j, send, new AbortController().signal)));
    return jobs.length + settled.length;
  }

  private async claim(limit: number): Promise<{ jobs: OpenJob[]; settled: Job[] }> {
    const { jobs, settled } = await this.o.queue.claim({
      owner: this.owner,
      limit,
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
    return { jobs, settled };
  }

  /**
   * The running worker claims as send slots free, not batch by batch: a batch waits for its
   * slowest send (a paced one waits its token), and every send that finished before it would
   * leave its slot, and the provider's budget, unused meanwhile. Claims as many jobs as slots are
   * free, again until one claim finds fewer than it asked for; each recorded job claims again.
   */
  private pump(onIdle = false): void {
    if (!this.started) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.claiming = this.fill(onIdle).finally(() => {
      this.claiming = undefined;
      if (!this.started) return;
      if (this.again) {
        this.again = false;
        this.pump();
      } else {
        this.idleTimer = setTimeout(() => this.pump(true), this.idleMs);
        this.idleTimer.unref();
      }
    });
  }

  private async fill(onIdle: boolean): Promise<void> {
    try {
      for (;;) {
        const send = this.send;
        const free = Math.min(this.batchSize, this.maxInFlight - this.inFlight.size);
        if (!this.started || send === undefined || free <= 0) return;
        const { jobs } = await this.claim(free);
        this.claimFailures.succeeded();
        if (onIdle) this.jobsClaimedOnIdle += jobs.length;
        onIdle = false;
        for (const j of jobs) this.spawn(j, send);
        if (jobs.length < free) return;
      }
    } catch (err) {
      this.claimFailures.failed(err);
    }
  }

  private spawn(job: OpenJob, send: SendFn): void {
    const slot: InFlight = { ac: new AbortController(), marked: false };
    const tokenWait = giveBackAfter(slot, this.tokenWaitMs, job.id, this.o.timers ?? realTimers);
    const task: Promise<void> = this.handle(job, send, slot.ac.signal, slot).then(
      (recorded) => {
        tokenWait.clear();
        this.inFlight.delete(task);
        // A recorded job frees its slot, and may free the next of its ordering key: claim now, not at
        // the next idle tick (so does one that gave its slot back). A job handed back by the gate is
        // due later, so its slot waits for a tick.
        if (recorded || tokenWait.fired) this.pump();
      },
      (err: unknown) => {
        tokenWait.clear();
        this.inFlight.delete(task);
        this.o.log.error(
          { err: describeError(err), job: job.id },
          'the outbox worker could not record a job while its lease lasted; the lease returns it, as after a crash',
        );
      },
    );
    this.inFlight.set(task, slot);
  }

  /** Runs batches until nothing is due (tests; a hub catching up). */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.runOnce(); n > 0; n = await this.runOnce()) total += n;
    return total;
  }

  /** Sends one claimed job and records its outcome; false when it was not sent (handed back, cancelled). */
  private async handle(job: OpenJob, send: SendFn, signal: AbortSignal, slot?: InFlight): Promise<boolean> {
    const asked = this.ready?.(job) ?? GO;
    // Awaited only when it is a Promise: an in-process breaker's answer is used in this same tick, as always.
    const gate = asked instanceof Promise ? await asked : asked;
    if (!gate.ok) {
      // Not sent, so not an attempt: the job goes back as it was, due again when the gate says.
      await this.o.queue.release(job.id, this.owner, Math.max(gate.retryAt, this.o.clock.now()));
      return false;
    }
    const sending: OpenJob = { ...job, state: 'sending', attempts: job.attempts + 1 };
    // Committed once the pacing token is granted, right before the request leaves (the sender calls
    // it): a crash from then on is recovered as "maybe sent", a crash before it as never sent. A token
    // granted to a job cancelled while it waited is spent unused: the bucket cannot take it back.
    const lease = new JobLease(this.leases, job.id);
    let marking: Promise<void> | undefined;
    const mark = () => {
      if (slot) slot.marked = true;
      marking ??= lease.markSent().then((ok) => {
        if (!ok) throw new JobNotSent(job.id);
      });
      return marking;
    };
    // A stop that came while the token was on its way: the job stays queued, as if it had come later.
    const beforeSend = () => (marking === undefined && signal.aborted ? Promise.reject(signal.reason as unknown) : mark());
    let verdict: Verdict;
    let outcome: SendOutcome | undefined;
    const renewing = lease.renewWhileOpen();
    try {
      outcome = await send(sending, signal, beforeSend).finally(renewing);
      await mark();
      verdict = classifyResponse(outcome, job.sensitive, job.replaySafe, job.attempts > 0);
    } catch (err) {
      const leftBefore = marking !== undefined;
      if (!leftBefore && signal.aborted) {
        // Stopped while it waited for its token: nothing left, so not an attempt; due again at once.
        await this.o.queue.release(job.id, this.owner, this.o.clock.now());
        return false;
      }
      // A failure before its request left is recorded like any other, but sending again cannot write twice.
      await mark().catch((e: unknown) => {
        if (!(e instanceof JobNotSent)) throw e;
      });
      // Cancelled or taken by another worker before anything left (even if the sender wrapped the
      // refusal): the job is theirs to record and publish.
      if (lease.mark !== 'sending') return true;
      verdict = classifyError(err, job.replaySafe || !leftBefore, job.sensitive);
    }
    await this.record(sending, verdict, outcome, lease, signal);
    return true;
  }

  /** Records the outcome (retried while the lease lasts: see JobLease.record) and tells waiters. */
  private async record(job: OpenJob, v: Verdict, outcome: SendOutcome | undefined, lease: JobLease, signal: AbortSignal): Promise<void> {
    const q = this.o.queue;
    const result = outcome === undefined ? undefined : { status: outcome.status, body: outcome.body };
    const paced = v.kind === 'retry' && v.paced === true;
    // The job's stored 429s (from any process, before any restart), and this answer when it is one.
    const spent = job.attempts - job.paced - (paced ? 1 : 0);
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
    let write: () => Promise<JobState | false>;
    let delay: number | undefined;
    if (v.kind === 'done') write = async () => (await q.complete(job.id, this.owner, result!)) && 'done';
    else if (v.kind === 'unconfirmed') write = async () => (await q.unconfirmed(job.id, this.owner, v.error)) && 'sent_unconfirmed';
    else if (v.kind === 'fail') write = () => q.fail(job.id, this.owner, { error: v.error, retryAt: 'never', ...(v.code ? { code: v.code } : {}), ...kept });
    else if (exhausted) write = () => q.fail(job.id, this.owner, { error: error!, retryAt: 'never', exhausted: true, ...(paced ? { paced } : {}), ...kept });
    else {
      // A Retry-After under a second (`0`, as a provider rounding its last second down says it)
      // names no wait: honoured, it sent the job again at once, over and over, until the cap on
      // sends killed it within a second. The backoff is used instead.
      const named = v.retryAfterMs !== undefined && v.retryAfterMs >= MIN_RETRY_AFTER_MS ? v.retryAfterMs : undefined;
      delay = named !== undefined ? Math.min(MAX_RETRY_AFTER_MS, named) : (this.o.backoffMs ?? backoffMs)(job.attempts);
      const retryAt = this.o.clock.now() + delay;
      write = () => q.fail(job.id, this.owner, { error: v.error, retryAt, ...(paced ? { paced } : {}) });
    }
    const to = await lease.record(write, signal);
    if (to === 'queued')
      this.o.log.info(
        { job: job.id, integration: job.integration, attempt: spent, sends: job.attempts, retryInMs: delay, error },
        'an outbound write will be sent again',
      );
    if (to === false) {
      this.o.log.warn({ job: job.id, integration: job.integration }, 'an outbound job was finished after its lease passed to another worker');
      return;
    }
    if (to === 'dead' || to === 'failed' || to === 'sent_unconfirmed')
      this.o.log.warn({ job: job.id, integration: job.integration, tool: job.tool, state: to, error }, 'an outbound write did not complete');
    const { arguments: _a, result: _r, ...plain } = job;
    const finished: Job = { ...plain, state: to, lastError: error, lastErrorCode: v.kind === 'fail' ? (v.code ?? null) : null, updatedAt: this.o.clock.now() };
    this.o.events.publish(finished);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.pump();
  }

  /** New jobs were queued in this process: look now rather than at the next idle tick. */
  wake(): void {
    this.pump();
  }

  /**
   * Stops claiming, gives back at once the jobs still waiting for their turn (a pacing token can
   * take longer than a supervisor waits for the exit, and a send begun while stopping may be cut
   * mid-request), and lets the sends in flight finish, aborting them after the grace period.
   */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const abortUnsent = () => {
      for (const s of this.inFlight.values()) if (!s.marked) s.ac.abort();
    };
    abortUnsent();
    const grace = setTimeout(() => {
      for (const s of this.inFlight.values()) s.ac.abort();
    }, this.o.stopGraceMs ?? 15_000);
    grace.unref();
    await this.claiming;
    // A claim under way when the stop came spawned its jobs after the first pass.
    abortUnsent();
    await Promise.all(this.inFlight.keys());
    clearTimeout(grace);
  }
}
