import { z } from 'zod';

/**
 * A job's life, guarded in SQL (STYLE.md §12). `queued` (possibly leased to a worker that has not
 * sent it yet, e.g. one waiting for its pacing token) → `sending` (committed once the token is
 * granted, right before the request leaves) → `done` | `failed` (the provider
 * refused it: a 4xx) | `dead` (attempts exhausted) | `sent_unconfirmed` (its worker died mid-send
 * and resending could write twice) | back to `queued` for a retry. `cancelled` only from `queued`.
 */
export const JOB_STATES = ['queued', 'sending', 'done', 'failed', 'dead', 'sent_unconfirmed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a waiter is told of: nothing more happens to the job unless an operator retries it. */
export const FINAL_STATES = ['done', 'failed', 'dead', 'sent_unconfirmed', 'cancelled'] as const satisfies readonly JobState[];
export type FinalState = (typeof FINAL_STATES)[number];

export function isFinal(state: JobState): state is FinalState {
  return (FINAL_STATES as readonly JobState[]).includes(state);
}

/** States an operator's retry (`switchboard queue retry`) takes a job from, back to `queued` with its attempts reset. */
export const RETRIED_STATES = ['dead', 'failed', 'sent_unconfirmed'] as const satisfies readonly FinalState[];

export function isRetried(state: JobState): state is (typeof RETRIED_STATES)[number] {
  return (RETRIED_STATES as readonly JobState[]).includes(state);
}

const name = z.string().min(1).max(128);

/** What the tool-call path hands to `enqueue`, parsed at the boundary. */
export const jobInputSchema = z.strictObject({
  tenant: name,
  user: name,
  connectionId: name,
  integration: z.string().min(1).max(64),
  tool: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()),
  /** The caller's `_meta["switchboard/idempotency-key"]`; without one a random key is made per call. */
  idempotencyKey: z.string().min(1).max(255).optional(),
  /** Jobs of one (connection, ordering key) are sent one at a time, in the order they were queued. */
  orderingKey: z.string().min(1).max(255).optional(),
  /**
   * The call's ordering key as digested before it was keyed: used instead of `orderingKey` while an
   * unfinished job of the connection holds it, so a write queued across the upgrade waits its turn.
   */
  unkeyedOrderingKey: z.string().min(1).max(255).optional(),
  /** Arguments (and the provider's answer) are sealed with the tenant's data key. */
  sensitive: z.boolean().default(false),
  /**
   * Whether sending the job twice applies it once: the integration sends an idempotency key
   * (Stripe's `Idempotency-Key`, a custom `idempotencyHeader`) or the tool is declared idempotent.
   * Only such a job is resent after its worker died mid-send; any other becomes `sent_unconfirmed`.
   */
  replaySafe: z.boolean().default(false),
  /** The site its connection's API base is on (src/outbox/site.ts), when its link learned values: see Job.siteDigest. */
  siteDigest: z.string().min(1).max(64).optional(),
});
export type JobInput = z.input<typeof jobInputSchema>;

/**
 * The provider's answer, kept for the caller (bounded: see MAX_RESULT_BODY_CHARS). A body cut there
 * is `truncated`, and `wholeChars` says how long the whole was (absent in jobs stored before it was kept).
 */
export const jobResultSchema = z.strictObject({
  status: z.number().int(),
  body: z.string(),
  truncated: z.boolean().optional(),
  wholeChars: z.number().int().nonnegative().optional(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

export interface Job {
  id: string;
  tenant: string;
  user: string;
  connectionId: string;
  integration: string;
  tool: string;
  /**
   * The caller's key, or the one made for the call. The key sent to the provider is the job id
   * instead: a caller's key is scoped to one user, a provider's to the whole account.
   */
  idempotencyKey: string;
  keyFromCaller: boolean;
  argsHash: string;
  orderingKey: string | null;
  sensitive: boolean;
  replaySafe: boolean;
  state: JobState;
  /** Sends made, 429s included. */
  attempts: number;
  /** Of those, the ones the provider answered 429: they spend no attempt of `maxAttempts`. */
  paced: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** The hub's error code when the job failed on a hub error before the provider answered (a refused redirect…); else null. */
  lastErrorCode: string | null;
  /**
   * The site its connection's API base was on when it was queued (src/outbox/site.ts): a relink to
   * another site since, and it is sent nowhere. Null when its connection learned no values, and for
   * jobs queued before this was kept (sent to the connection's base as it is).
   */
  siteDigest: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A job with its arguments and the provider's answer, opened (unsealed) for the worker or its owner. */
export interface OpenJob extends Job {
  arguments: Record<string, unknown>;
  result: JobResult | null;
}

/** Whose job it is: a job is shown and cancelled only for its owner. */
export interface JobOwner {
  tenant: string;
  user: string;
}

export interface EnqueueResult {
  /** `existing`: the caller's key was seen with the same arguments; `job` is the first one, in whatever state. */
  outcome: 'queued' | 'existing';
  job: Job;
}

export interface ClaimOptions {
  owner: string;
  limit: number;
  leaseMs: number;
  /** A replay-safe job whose lease expired after this many sends is dead rather than sent again. */
  maxAttempts: number;
  /** Whether a lease holder is known to be gone (src/oauth/owner.ts): its jobs are recovered at once. */
  ownerIsDead?: (owner: string) => boolean;
}

export interface ClaimResult {
  /** Leased to `owner`, still `queued`: `markSent` moves each to `sending` right before it is sent. */
  jobs: OpenJob[];
  /** Jobs this claim found abandoned mid-send and settled (`sent_unconfirmed` or `dead`): waiters are told. */
  settled: Job[];
}

export interface FailOptions {
  error: string;
  /** When to send again (back to `queued`), or 'never': `failed`, or `dead` with `exhausted`. */
  retryAt: number | 'never';
  exhausted?: boolean;
  /** The provider answered 429: counted in the job's `paced`, so it spends no attempt. */
  paced?: boolean;
  /** The provider's answer that made it fail, kept for the caller. */
  result?: JobResult;
  /** The hub's error code, when a hub error made it fail before an answer. */
  code?: string;
}

export interface ListFilter {
  state?: JobState;
  integration?: string;
  tenant?: string;
  user?: string;
  limit?: number;
}

export type CancelResult = { outcome: 'cancelled'; job: Job } | { outcome: 'not_found' } | { outcome: 'busy'; state: JobState };
export type RetryResult = { outcome: 'retried'; from: JobState } | { outcome: 'not_found' } | { outcome: 'busy'; state: JobState };

/** What the tool-call path needs. */
export interface OutboxIntake {
  enqueue(input: JobInput): Promise<EnqueueResult>;
  /** Only the job's owner sees it (undefined otherwise, as for an unknown id). */
  get(id: string, owner: JobOwner): Promise<OpenJob | undefined>;
  /** queued → cancelled, only for its owner and only before it is sent. */
  cancel(id: string, owner: JobOwner): Promise<CancelResult>;
}

/** What a worker needs: leased claims and transitions guarded on the lease owner. */
export interface OutboxQueue {
  claim(opts: ClaimOptions): Promise<ClaimResult>;
  /** queued (leased to `owner`) → sending, committed after the pacing token, right before the request leaves; counts the attempt. */
  markSent(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** A `sending` job still leased to `owner` keeps its lease `leaseMs` longer: its request is still open. */
  renew(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Gives a claimed, unsent job back (a paused bucket, an open breaker, a stopping worker). */
  release(id: string, owner: string, retryAt: number): Promise<boolean>;
  /** sending → done with the provider's answer. */
  complete(id: string, owner: string, result: JobResult): Promise<boolean>;
  /** sending → queued (retryAt), failed or dead. */
  fail(id: string, owner: string, opts: FailOptions): Promise<JobState | false>;
  /** sending → sent_unconfirmed: the request may have been applied and cannot safely be sent again. */
  unconfirmed(id: string, owner: string, error: string): Promise<boolean>;
}

/** What the CLI and the purge job need. */
export interface OutboxAdmin {
  /** Without the owner check: for the operator. */
  find(id: string): Promise<Job | undefined>;
  list(filter?: ListFilter): Promise<Job[]>;
  /** dead, failed or sent_unconfirmed → queued, attempts reset. */
  retry(id: string): Promise<RetryResult>;
  /** Removes jobs in a final `state` last changed before `before`; how many. */
  purge(state: FinalState, before: number, limit?: number): Promise<number>;
}

export type Outbox = OutboxIntake & OutboxQueue & OutboxAdmin;
