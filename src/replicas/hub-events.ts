import type { ConnectionChange, ConnectionFeed } from '../connections/feed.js';
import type { ConnectionReads } from '../connections/repository.js';
import type { ConnectionState } from '../connections/types.js';
import type { Identity } from '../identity/identity.js';
import { isHubError } from '../errors.js';
import type { RevocationSource } from '../identity/revocation-watch.js';
import type { Accounts } from '../integrations/accounts.js';
import type { Logger } from '../observability/logger.js';
import type { JobEvents } from '../outbox/events.js';
import type { RedisHandle } from '../store/redis/client.js';
import type { HubEvent, RedisFanout } from './fanout.js';
import type { EventFeed } from '../webhooks/inbox/handlers.js';

/** A change the HTTP face hears of for some users: shared with, and heard from, the other replicas. */
export type FaceEvent =
  | { type: 'list_changed'; kind: 'tools' | 'resources' | 'prompts'; identities: readonly Identity[] }
  | { type: 'resource_updated'; uri: string; identities: readonly Identity[]; eventId?: string }
  | { type: 'server_list_changed'; server: string; kind: 'tools' | 'resources' | 'prompts' };

/** What the HTTP face is handed: it shares the changes it was told of here, and delivers the others' without sharing them again. */
export interface FaceReplicas {
  share(event: FaceEvent): void;
  listen(on: (event: FaceEvent) => void): () => void;
}

export interface ReplicaEventsOptions {
  fanout: RedisFanout;
  feed: ConnectionFeed;
  /** Another replica's connection change is read again from the shared store, the authority. */
  connections: Pick<ConnectionReads, 'get'>;
  /** Announcing through `changed` records it as announced here, so the store watcher does not announce it again. */
  accounts: Pick<Accounts, 'changed'>;
  /**
   * The outbox's job events: a job this replica's worker settles goes out as `job_settled`, and
   * one another replica settled wakes the calls waiting for it here (a write queued through one
   * replica is often sent by another's worker; without this its caller waited out `outbox.waitMs`).
   */
  jobs?: JobEvents;
  /** The inbox's feed: an event another replica announced is told here once, not again when the store's watch reads it. */
  inboxEvents?: Pick<EventFeed, 'claim'>;
  log: Logger;
  /** The first wait between attempts to subscribe while Redis cannot be reached (default 2 s, doubling to 30 s). */
  retryMs?: number;
}

const who = (ids: readonly Identity[]) => ids.map(({ tenant, user }) => ({ tenant, user }));

/**
 * The hub's side of the replicas' fan-out (src/replicas/fanout.ts): connection changes this
 * replica makes or notices go out as `connection_changed`, the face's per-user list changes and
 * resource updates as themselves, and revocations made here as `token_revoked`; what arrives is
 * delivered here only, never published again, so nothing bounces between replicas. Without a
 * subscription (Redis down) every replica still learns of connection changes and revocations
 * from the store's polls, seconds later.
 */
export class ReplicaEvents {
  /** The last state of each connection sent or heard: a change seen twice (here and from the store's watcher) goes out once. */
  private readonly known = new Map<string, ConnectionState>();
  private readonly faceListeners = new Set<(e: FaceEvent) => void>();
  private readonly revokeListeners = new Set<(tokenId: string) => void>();
  private readonly off: Array<() => void> = [];
  private retry: NodeJS.Timeout | undefined;
  /** Stops waiting for the client's reconnect (see `start`). */
  private offReachable: (() => void) | undefined;
  /** The attempt under way: a retry timer and a reconnect firing together make one attempt. */
  private starting: Promise<void> | undefined;
  private stopped = false;
  private subscribedValue = false;
  private retryDelayMs: number;
  /** The server's error word when it refused the last subscribe (NOPERM: an ACL user without the channel), for /readyz. */
  private refusedWith: string | undefined;

  constructor(private readonly o: ReplicaEventsOptions) {
    this.retryDelayMs = o.retryMs ?? 2_000;
    this.off.push(o.feed.subscribe((c) => this.connectionChanged(c)));
    this.off.push(o.fanout.on((e) => this.received(e)));
    if (o.jobs) this.off.push(o.jobs.subscribe((job) => this.send({ type: 'job_settled', jobId: job.id })));
  }

  /** Why Redis refused the last attempt to subscribe (its error word), while not subscribed. */
  get refusal(): string | undefined {
    return this.subscribedValue ? undefined : this.refusedWith;
  }

  /** Whether events from the other replicas arrive now. */
  get subscribed(): boolean {
    return this.subscribedValue;
  }

  /** Subscribes; never rejects: a Redis that cannot be reached is tried again in the background while the hub serves. */
  start(): Promise<void> {
    this.starting ??= this.attempt().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.subscribedValue) return;
    clearTimeout(this.retry);
    this.offReachable?.();
    this.offReachable = undefined;
    try {
      await this.o.fanout.start();
      this.subscribedValue = true;
      this.refusedWith = undefined;
    } catch (err) {
      const reply = isHubError(err) ? err.details?.['redisReply'] : undefined;
      this.refusedWith = typeof reply === 'string' ? reply : undefined;
      // A failed subscribe leaves a half-made connection: dropped, so the next attempt starts clean.
      await this.o.fanout.stop();
      if (this.stopped) return;
      this.o.log.warn({ error: describe(err) }, "cannot subscribe to the other replicas' events on Redis; trying again");
      this.retry = setTimeout(() => void this.start(), this.retryDelayMs);
      this.retry.unref();
      // Redis back before the wait is out (the client reconnects within 2 s): tried again at once,
      // not up to 30 s later with the events unheard and /readyz degraded meanwhile.
      this.offReachable = this.o.fanout.whenReachable(() => void this.start());
      // Doubled up to 30 s: each attempt opens a connection, and a long outage need not open hundreds.
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
    }
  }

  face(): FaceReplicas {
    return {
      share: (e) => {
        // A tool list changed by a connection change: the change itself went out (connectionChanged).
        if (e.type === 'list_changed' && this.o.feed.publishing) return;
        this.send(
          e.type === 'server_list_changed'
            ? e
            : e.type === 'list_changed'
              ? { type: e.type, kind: e.kind, who: who(e.identities) }
              : { type: e.type, uri: e.uri, who: who(e.identities), ...(e.eventId === undefined ? {} : { event: e.eventId }) },
        );
      },
      listen: (on) => {
        this.faceListeners.add(on);
        return () => this.faceListeners.delete(on);
      },
    };
  }

  /**
   * The token store's revocations as the face watches them: this process's, which also go to every
   * other replica, and theirs as they arrive. `revokedAmong` (the poll) stays the fallback.
   */
  revocations(source: RevocationSource): RevocationSource {
    this.off.push(source.onRevoked((tokenId) => this.send({ type: 'token_revoked', tokenId })));
    return {
      onRevoked: (fn) => {
        const offLocal = source.onRevoked(fn);
        this.revokeListeners.add(fn);
        return () => {
          offLocal();
          this.revokeListeners.delete(fn);
        };
      },
      revokedAmong: (ids) => source.revokedAmong(ids),
    };
  }

  private connectionChanged(c: ConnectionChange): void {
    if (this.known.get(c.id) === c.state) return;
    this.known.set(c.id, c.state);
    this.send({ type: 'connection_changed', id: c.id, tenant: c.tenant, user: c.user, integration: c.integration, state: c.state });
  }

  private send(event: HubEvent): void {
    // At most once by design (fanout.ts): a lost event is made good by the store's polls.
    this.o.fanout.publish(event).catch((err: unknown) => this.o.log.warn({ type: event.type, error: describe(err) }, 'could not tell the other replicas'));
  }

  private received(e: HubEvent): void {
    switch (e.type) {
      case 'connection_changed':
        this.known.set(e.id, e.state);
        void this.reannounce(e);
        return;
      case 'token_revoked':
        for (const l of this.revokeListeners) l(e.tokenId);
        return;
      case 'job_settled':
        // Only the waiters' own reads: nothing is published again, so it never bounces.
        this.o.jobs?.poke(e.jobId);
        return;
      case 'server_list_changed':
        for (const l of this.faceListeners) l(e);
        return;
      case 'list_changed':
      case 'resource_updated': {
        if (e.who === undefined) return; // only per-user changes are shared (src/mcp/http-face.ts)
        // An event this replica told its subscribers of already (its watch of the store read it first) is not told twice;
        // one it had not is noted, so the watch does not tell it again when it reads it a moment later.
        if (e.type === 'resource_updated' && e.event !== undefined && this.o.inboxEvents && !this.o.inboxEvents.claim(e.event)) return;
        const identities = e.who.map(({ tenant, user }) => ({ tenant, user, scopes: [] }));
        const ev: FaceEvent = e.type === 'list_changed' ? { type: e.type, kind: e.kind, identities } : { type: e.type, uri: e.uri, identities };
        for (const l of this.faceListeners) l(ev);
      }
    }
  }

  private async reannounce(change: ConnectionChange): Promise<void> {
    try {
      const c = await this.o.connections.get(change.id);
      if (c) await this.o.accounts.changed(c);
      // Not in this replica's store (a misconfigured pair): what the other said is all there is.
      else this.o.feed.publish(change);
    } catch (err) {
      this.o.log.warn({ connection: change.id, error: describe(err) }, "could not take in another replica's connection change; the store's watcher will");
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.offReachable?.();
    for (const off of this.off.splice(0)) off();
    this.subscribedValue = false;
    await this.o.fanout.stop();
  }
}

/** Redis as /readyz and doctor show it: never the URL (it may hold the password), only whether it answers and why not. */
export type RedisReport = { ok: true } | { ok: false; reason: string };

/** A PING answered within `timeoutMs`, and the events' subscription in place when `events` is given. */
export async function redisHealth(h: RedisHandle, events?: ReplicaEvents, timeoutMs = 1_000): Promise<RedisReport> {
  // A client between reconnects queues commands: its status says at once what a PING would say late.
  if (h.redis.status !== 'ready') {
    const failure = h.connectFailure();
    // A server that answers and refuses (a wrong password, a user switched off) is no network fault.
    if (failure?.refused) return { ok: false, reason: `Redis refused the connection (${failure.word}); check the credentials in redis.url` };
    return { ok: false, reason: `Redis is not reachable (connection ${h.redis.status}${failure === undefined ? '' : `: ${failure.word}`})` };
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), timeoutMs);
  });
  try {
    const answer = await Promise.race([h.redis.ping(), late]);
    if (answer === 'late') return { ok: false, reason: `Redis did not answer PING within ${timeoutMs} ms` };
  } catch (err) {
    // The code only (ECONNREFUSED, NOAUTH): a message may name the host.
    const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? ` (${err.code})` : '';
    return { ok: false, reason: `Redis failed PING${code}` };
  } finally {
    clearTimeout(timer);
  }
  const refused = h.databaseRefusal();
  if (refused !== undefined) return { ok: false, reason: `Redis refused the database redis.url names (${refused}); the hub uses database 0 instead` };
  if (events && !events.subscribed) return { ok: false, reason: notSubscribed(h, events.refusal) };
  return { ok: true };
}

/**
 * Why the events are not heard. A Redis 7 ACL user is made with no channels unless given `&…`
 * (acl-pubsub-default resetchannels), so one that reads and writes keys may still be refused the
 * events channel: the operator is told which channel to grant, not only "not subscribed yet".
 */
function notSubscribed(h: RedisHandle, refusal: string | undefined): string {
  if (refusal === 'NOPERM')
    return `not subscribed to the other replicas' events on Redis: its user may not use the channel ${h.key('events')} (NOPERM; grant it, e.g. ACL SETUSER <user> &${h.prefix}*)`;
  if (refusal !== undefined) return `not subscribed to the other replicas' events on Redis: it refused the subscription (${refusal})`;
  return "not subscribed to the other replicas' events on Redis yet";
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
