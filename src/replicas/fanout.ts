import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import { CONNECTION_STATES } from '../connections/types.js';
import type { Logger } from '../observability/logger.js';
import type { RedisHandle } from '../store/redis/client.js';

const who = z.strictObject({ tenant: z.string().min(1), user: z.string().min(1) });

/**
 * What one replica tells the others. Only who is concerned travels, never scopes or token values:
 * each replica maps `who` to the sessions and streams it holds itself.
 */
export const hubEventSchema = z.discriminatedUnion('type', [
  /** A list changed for these users (absent: for everyone): their clients should list again. */
  z.strictObject({ type: z.literal('list_changed'), kind: z.enum(['tools', 'resources', 'prompts']), who: z.array(who).optional() }),
  /**
   * One identity's session with this downstream server read a changed list, which the other
   * replicas' connections did not hear: each reads it again on a fresh session of its own.
   */
  z.strictObject({ type: z.literal('server_list_changed'), server: z.string().min(1).max(200), kind: z.enum(['tools', 'resources', 'prompts']) }),
  /** A resource changed: subscribers among these users (absent: all) get `notifications/resources/updated`. */
  z.strictObject({
    type: z.literal('resource_updated'),
    uri: z.string().min(1),
    who: z.array(who).optional(),
    /** The inbox event it tells of, when it is one: a replica tells its subscribers of each event once. */
    event: z.string().min(1).max(200).optional(),
  }),
  /** A hub API token was revoked: whichever replica holds its sessions and streams closes them. */
  z.strictObject({ type: z.literal('token_revoked'), tokenId: z.string().min(1) }),
  /** An outbox job reached a final state: a call waiting for it on another replica reads it again. */
  z.strictObject({ type: z.literal('job_settled'), jobId: z.string().min(1) }),
  /** A connection was linked or changed state (src/connections/feed.ts ConnectionChange). */
  z.strictObject({
    type: z.literal('connection_changed'),
    id: z.string().min(1),
    tenant: z.string().min(1),
    user: z.string().min(1),
    integration: z.string().min(1),
    state: z.enum(CONNECTION_STATES),
  }),
]);

export type HubEvent = z.infer<typeof hubEventSchema>;

const envelopeSchema = z.strictObject({ v: z.literal(1), from: z.string().min(1), at: z.number(), event: hubEventSchema });

export interface RedisFanoutOptions {
  redis: RedisHandle;
  /** This replica's id (default: a random one); a replica ignores what it published itself. */
  replicaId?: string;
  log?: Logger;
  clock?: Clock;
}

export type FanoutListener = (event: HubEvent, from: string) => void;

/**
 * Hub events between replicas over Redis pub/sub, on one channel per key prefix. Delivery is at
 * most once and only to replicas subscribed at the time: fine for these events, which say
 * "look again" (a client that missed `list_changed` lists on its next request anyway; a revoked
 * token is refused by every replica's own lookup); nothing here is a record of state.
 */
export class RedisFanout {
  readonly replicaId: string;
  private readonly channel: string;
  private readonly listeners = new Set<FanoutListener>();
  private sub: Redis | undefined;
  private readonly clock: Clock;
  /** Counts a test or /metrics can read: what arrived, what was dropped as malformed, what was our own. */
  readonly counts = { received: 0, dropped: 0, own: 0 };

  constructor(private readonly opts: RedisFanoutOptions) {
    this.replicaId = opts.replicaId ?? randomUUID();
    this.channel = opts.redis.key('events');
    this.clock = opts.clock ?? systemClock;
  }

  /** Subscribes (on a connection of its own: a subscribed connection takes no other commands). */
  async start(): Promise<void> {
    if (this.sub) return;
    const sub = this.opts.redis.duplicate();
    this.sub = sub;
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    try {
      await sub.subscribe(this.channel);
    } catch (err) {
      throw this.opts.redis.failure(err, 'subscribing to hub events');
    }
  }

  /**
   * Calls `fn` the next time the client's main connection becomes ready (Redis back after an
   * outage), so a subscription that failed meanwhile is tried again then, not after its backoff.
   */
  whenReachable(fn: () => void): () => void {
    const r = this.opts.redis.redis;
    r.once('ready', fn);
    return () => r.off('ready', fn);
  }

  on(listener: FanoutListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every other replica. Rejects with `store_failed` when Redis cannot be reached. */
  async publish(event: HubEvent): Promise<void> {
    const body = JSON.stringify({ v: 1, from: this.replicaId, at: this.clock.now(), event: hubEventSchema.parse(event) });
    try {
      await this.opts.redis.redis.publish(this.channel, body);
    } catch (err) {
      throw this.opts.redis.failure(err, 'publishing a hub event');
    }
  }

  private receive(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      parsed = undefined;
    }
    const env = envelopeSchema.safeParse(parsed);
    if (!env.success) {
      this.counts.dropped++;
      // The body is not logged: it is whatever someone with access to the channel sent.
      this.opts.log?.warn(
        { channel: this.channel, bytes: message.length, issues: env.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) },
        'dropped a malformed hub event from Redis',
      );
      return;
    }
    if (env.data.from === this.replicaId) {
      this.counts.own++;
      return;
    }
    this.counts.received++;
    for (const l of this.listeners) {
      try {
        l(env.data.event, env.data.from);
      } catch (err) {
        // A listener belongs to another part; one failing must not keep the others uninformed.
        this.opts.log?.error({ error: err instanceof Error ? err.message : String(err), type: env.data.event.type }, 'a hub event listener failed');
      }
    }
  }

  async stop(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
