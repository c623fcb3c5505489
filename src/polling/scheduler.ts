import { newOwnerId, ownerIsDead } from '../oauth/owner.js';
import type { Clock } from '../clock.js';
import type { ConnectionChange, ConnectionFeed } from '../connections/feed.js';
import type { ConnectionReads } from '../connections/repository.js';
import type { PollConfig } from '../definition/poll.js';
import type { Refusal } from '../definition/refusal.js';
import { describeError } from '../errors.js';
import type { Part } from '../lifecycle.js';
import type { Logger } from '../observability/logger.js';
import type { HubMetrics } from '../observability/metrics.js';
import type { ProviderClient, ProviderLimits } from '../providers/client.js';
import { oauthCredentials, type ConnectionTokens } from '../providers/credentials.js';
import type { EventRoute, PolledIntake } from '../webhooks/inbox/types.js';
import { onBase, tiedToBase } from '../integrations/connection-base.js';
import { runPoll, type FeedTarget, type RunResult } from './run.js';
import { STALL_AFTER_FAILURES, STALL_AFTER_STUCK_PAGES, nextRun } from './schedule.js';
import type { DueFilter, PollerKey, PollerRow, PollerState, PollerStore, RunRecord } from './store.js';
import { RepeatedFailure } from '../observability/repeated-failure.js';

/** An integration whose definition declares `poll`, with how its API is reached. */
export interface PolledIntegration {
  name: string;
  title: string;
  apiBaseUrl: string;
  poll: PollConfig;
  limits?: Partial<ProviderLimits>;
  /** How the provider refuses in a 2xx (Slack's `ok: false`): a token refused so is refreshed, then relinked, as with a tool call. */
  refusal?: Refusal;
}

/** setTimeout by default; tests hand in one they fire by hand, so no test sleeps. */
export interface Timer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimer: Timer = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PollSchedulerOptions {
  integrations: readonly PolledIntegration[];
  connections: ConnectionReads;
  feed: ConnectionFeed;
  store: PollerStore;
  inbox: PolledIntake;
  provider: ProviderClient;
  tokens: ConnectionTokens;
  /** A connection's API base (its link's values in apiBaseUrl); absent, each integration's apiBaseUrl. */
  apiBase?: (integration: string, connectionId: string) => Promise<string>;
  clock: Clock;
  log: Logger;
  metrics?: HubMetrics;
  /** This process's name on its leases. */
  owner?: string;
  /** Whether a lease's owner is known dead (default: a process on this host that is gone). */
  ownerIsDead?: (owner: string) => boolean;
  timer?: Timer;
  /** How often due pollers are looked for (other processes' changes included). */
  tickMs?: number;
  /** Longer than a run can take: a process that dies mid-run holds the feed this long. */
  leaseMs?: number;
  random?: () => number;
  maxPages?: number;
  /** Runs at once at most: a slow provider must not hold up the others. */
  concurrency?: number;
}

/** A poller's health as /readyz, doctor, /connect and the metrics show it. */
export interface PollerStatus extends PollerKey {
  integration: string;
  tenant: string;
  user: string;
  state: PollerState;
  reason: string | null;
  intervalMs: number;
  nextRunAt: number;
  pausedUntil: number | null;
  lastPollAt: number | null;
  lastEventAt: number | null;
  eventsTotal: number;
  failures: number;
  lastError: string | null;
}

interface Poller extends FeedTarget {
  key: PollerKey;
  baseMs: number;
  api: PolledIntegration;
}

const keyOf = (k: PollerKey) => `${k.connectionId}\u0000${k.feed}`;

/**
 * Runs a poller per (active connection, feed) of every integration that declares `poll`: added
 * and removed as the connections' change feed says, run when due by whichever process on the store
 * takes its lease first (a guarded UPDATE, no network inside a transaction). A lifecycle part of
 * `serve` and `stdio`.
 */
export class PollScheduler implements Part {
  readonly name = 'pollers';
  readonly owner: string;
  private readonly byName: Map<string, PolledIntegration>;
  /** The feeds this process polls: the only due rows it reads (see DueFilter). */
  private readonly feeds: DueFilter;
  private readonly pollers = new Map<string, Poller>();
  private readonly running = new Map<string, Promise<void>>();
  /** A read that fails on every tick (the store away) is logged when it starts and when it ends. */
  private readonly readFailures: RepeatedFailure;
  private readonly states = new Map<string, PollerState>();
  private readonly timer: Timer;
  private readonly tickMs: number;
  private readonly leaseMs: number;
  private readonly ownerIsDead: (owner: string) => boolean;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private handle: unknown;
  private unsubscribe: () => void = () => {};
  private started = false;
  private ticking: Promise<number> | undefined;

  constructor(private readonly o: PollSchedulerOptions) {
    // host:pid:start:instance, so a restarted hub can tell its killed predecessor's leases (ownerIsDead).
    this.owner = o.owner ?? newOwnerId();
    this.byName = new Map(o.integrations.filter((i) => Object.keys(i.poll).length > 0).map((i) => [i.name, i]));
    this.readFailures = new RepeatedFailure(o.log, 'the poll scheduler could not read its pollers');
    this.feeds = { feeds: [...this.byName.values()].flatMap((i) => Object.keys(i.poll).map((feed) => ({ integration: i.name, feed }))) };
    this.timer = o.timer ?? realTimer;
    this.tickMs = o.tickMs ?? 1_000;
    this.leaseMs = o.leaseMs ?? 5 * 60_000;
    this.random = o.random ?? Math.random;
    this.ownerIsDead = o.ownerIsDead ?? ownerIsDead;
  }

  async start(): Promise<void> {
    if (this.byName.size === 0) return;
    this.started = true;
    // Subscribed before listing, so a link made in between is not missed (adding twice is harmless).
    this.unsubscribe = this.o.feed.subscribe((c) => void this.changed(c));
    for (const c of await this.o.connections.list()) if (c.state === 'active') await this.add(c);
    // The gauges from the states the store keeps, at once: a poller stalled before a restart, whose
    // stored backoff puts its next run minutes away, must not vanish from /metrics until then.
    await this.status().catch((err: unknown) => this.o.log.warn({ err: describeError(err) }, 'could not read the pollers’ states'));
    this.publishStates();
    this.schedule(0);
  }

  /** The pollers this process runs, as keys. */
  keys(): PollerKey[] {
    return [...this.pollers.values()].map((p) => p.key);
  }

  private async changed(c: ConnectionChange): Promise<void> {
    try {
      if (c.state === 'active') {
        await this.add(c);
        this.schedule(0);
      } else for (const p of [...this.pollers.values()]) if (p.route.id === c.id) this.pollers.delete(keyOf(p.key));
      this.publishStates();
    } catch (err) {
      this.o.log.warn({ err: describeError(err), connection: c.id }, 'a poller could not be added');
    }
  }

  private async add(c: { id: string; tenant: string; user: string; integration: string }): Promise<void> {
    const api = this.byName.get(c.integration);
    if (!api) return;
    for (const [name, feed] of Object.entries(api.poll)) {
      const key = { connectionId: c.id, feed: name };
      await this.o.store.ensure(key, api.name);
      this.pollers.set(keyOf(key), {
        key,
        api,
        integration: api.name,
        name,
        feed,
        baseMs: feed.intervalSeconds * 1000,
        route: { id: c.id, tenant: c.tenant, user: c.user } satisfies EventRoute,
      });
    }
  }

  private schedule(ms: number): void {
    if (!this.started) return;
    this.timer.clear(this.handle);
    this.handle = this.timer.set(() => void this.tick(), ms);
  }

  /**
   * Runs the pollers of this process that are due and free; resolves with how many ran. The due
   * list is read without the write lock; each is then claimed by its own guarded UPDATE.
   */
  tick(): Promise<number> {
    this.ticking ??= this.tickOnce().finally(() => {
      this.ticking = undefined;
      this.schedule(this.tickMs);
    });
    return this.ticking;
  }

  private async tickOnce(): Promise<number> {
    let ran = 0;
    try {
      const due = (await this.o.store.due(500, this.ownerIsDead, this.feeds)).filter((k) => this.pollers.has(keyOf(k)) && !this.running.has(keyOf(k)));
      this.readFailures.succeeded();
      const limit = this.o.concurrency ?? 4;
      for (let i = 0; i < due.length && this.started; i += limit) {
        const batch = due.slice(i, i + limit).map((k) => this.runOne(this.pollers.get(keyOf(k))!));
        ran += (await Promise.all(batch)).filter(Boolean).length;
      }
    } catch (err) {
      this.readFailures.failed(err);
    }
    return ran;
  }

  private async runOne(p: Poller): Promise<boolean> {
    const k = keyOf(p.key);
    const row = await this.o.store.claim(p.key, this.owner, this.leaseMs, this.ownerIsDead);
    if (row === undefined) return false;
    let release!: () => void;
    this.running.set(
      k,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    try {
      const apiBase = this.o.apiBase;
      const credentials = oauthCredentials(this.o.tokens, p.route.id);
      const bind = (apiBaseUrl: string) =>
        this.o.provider.bind({
          label: p.api.title,
          apiBaseUrl,
          // Sent only while that base is still the connection's: a relink to another site may come mid-run.
          credentials: apiBase ? tiedToBase(credentials, apiBaseUrl, () => apiBase(p.integration, p.route.id), p.api.title) : credentials,
          // The tools' pace key: polls and tool calls spend one budget at the provider.
          paceKey: `${p.integration}:${p.route.id}`,
          // The schedule owns a poll's retries (STYLE.md §16): one attempt per request here.
          limits: { ...p.api.limits, retries: 0 },
          refusal: p.api.refusal,
          signal: this.abort.signal,
        });
      // The connection's base as it is now (a relink to another site moves it); one it lacks fails the
      // poll, and the connection, moved to needs_reauth, loses its pollers.
      const fetch = apiBase ? onBase(() => apiBase(p.integration, p.route.id), bind) : bind(p.api.apiBaseUrl);
      const deps = { fetch, inbox: this.o.inbox, clock: this.o.clock, owner: this.owner, maxPages: this.o.maxPages ?? 50, refusal: p.api.refusal };
      const result = await runPoll(p, row, deps);
      await this.record(p, row, result);
      return true;
    } finally {
      this.running.delete(k);
      release();
    }
  }

  private async record(p: Poller, row: PollerRow, r: RunResult): Promise<void> {
    const now = this.o.clock.now();
    // A run cut short by stop() is not the provider's failure: it runs again at the next start.
    const outcome = this.abort.signal.aborted ? 'more' : r.outcome;
    const next = nextRun(p.baseMs, { emptyPolls: row.emptyPolls, failures: row.failures }, outcome, r.floorMs, this.random);
    const stalled =
      next.state.failures >= STALL_AFTER_FAILURES
        ? `${next.state.failures} polls in a row failed; the last: ${r.error ?? 'unknown error'}`
        : r.stuckPages >= STALL_AFTER_STUCK_PAGES
          ? `the cursor stopped at ${JSON.stringify(r.cursor)} while the provider kept returning items (${r.stuckPages} pages); a run of items sharing one cursor value may be longer than a page`
          : null;
    const record: RunRecord = {
      intervalMs: next.intervalMs,
      nextRunAt: now + next.delayMs,
      emptyPolls: next.state.emptyPolls,
      failures: next.state.failures,
      stuckPages: r.stuckPages,
      state: stalled ? 'stalled' : 'active',
      reason: stalled,
      pausedUntil: r.floorMs > 0 ? now + r.floorMs : null,
      lastError: r.error ?? null,
      stored: r.stored,
    };
    if (!(await this.o.store.finish(p.key, this.owner, record)))
      this.o.log.warn({ integration: p.integration, feed: p.name, connection: p.route.id }, 'a poll run ended after its lease passed to another process');
    const fields = { integration: p.integration, feed: p.name, connection: p.route.id, stored: r.stored, pages: r.pages, outcome };
    if (stalled && row.state !== 'stalled') this.o.log.warn({ ...fields, reason: stalled }, 'a poller is stalled');
    else if (r.error) this.o.log.info({ ...fields, error: r.error }, 'a poll failed; it is tried again later');
    else if (row.state === 'stalled') this.o.log.info(fields, 'a stalled poller recovered');
    this.o.metrics?.observePoll(p.integration, p.name, outcome, r.stored);
    this.states.set(keyOf(p.key), record.state);
    this.publishStates();
  }

  private publishStates(): void {
    if (!this.o.metrics) return;
    const counts = new Map<string, { integration: string; feed: string; active: number; stalled: number }>();
    for (const api of this.byName.values())
      for (const feed of Object.keys(api.poll)) counts.set(`${api.name}\u0000${feed}`, { integration: api.name, feed, active: 0, stalled: 0 });
    for (const [k, p] of this.pollers) counts.get(`${p.integration}\u0000${p.name}`)![this.states.get(k) ?? 'active']++;
    for (const c of counts.values()) this.o.metrics.setPollers(c.integration, c.feed, { active: c.active, stalled: c.stalled });
  }

  /** Every poller of this process with its state as the store has it (another process's runs included). */
  async status(): Promise<PollerStatus[]> {
    const rows = await this.o.store.list({ connectionIds: [...new Set([...this.pollers.values()].map((p) => p.route.id))] });
    return rows.flatMap((r) => {
      const p = this.pollers.get(keyOf(r));
      if (!p) return [];
      this.states.set(keyOf(r), r.state);
      const { cursor: _c, leaseOwner: _o, leaseUntil: _u, emptyPolls: _e, stuckPages: _s, updatedAt: _t, ...shown } = r;
      return [{ ...shown, tenant: p.route.tenant, user: p.route.user }];
    });
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe();
    this.timer.clear(this.handle);
    // In-flight requests end now; their runs record what they stored and let their leases go.
    this.abort.abort();
    await this.ticking?.catch(() => {});
    await Promise.all(this.running.values());
  }
}
