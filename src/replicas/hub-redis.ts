import type { Clock } from '../clock.js';
import type { Logger } from '../observability/logger.js';
import type { BreakerOptions } from '../outbox/breaker.js';
import { RedisBreakers } from '../outbox/redis/breakers.js';
import type { RedisHandle } from '../store/redis/client.js';
import { RedisFanout } from './fanout.js';
import { ReplicaEvents, type ReplicaEventsOptions } from './hub-events.js';

/**
 * What a hub with `redis` in its config runs on Redis besides the state its repositories keep
 * there: the events between replicas, and the agents' circuits. Started before the workers and
 * faces that use it, stopped after them.
 */
export class HubRedis {
  readonly events: ReplicaEvents;

  constructor(
    readonly redis: RedisHandle,
    private readonly o: { log: Logger; clock: Clock } & Omit<ReplicaEventsOptions, 'fanout' | 'log'>,
  ) {
    const { clock, log, ...sources } = o;
    this.events = new ReplicaEvents({ fanout: new RedisFanout({ redis, log, clock }), log, ...sources });
  }

  /** The agents' circuits, under keys of their own: an agent may bear an integration's name. */
  agentBreakers(tuning: BreakerOptions | undefined): RedisBreakers {
    const scoped: RedisHandle = { ...this.redis, key: (...parts) => this.redis.key('agents', ...parts) };
    return new RedisBreakers({ redis: scoped, threshold: 5, coolDownMs: 60_000, clock: this.o.clock, ...tuning });
  }

  start(): Promise<void> {
    return this.events.start();
  }

  /** The pacer on Redis first (it may still be asking), then the fan-out, then the client. */
  async stop(pacer: { stop(): Promise<void> } | undefined): Promise<void> {
    await pacer?.stop();
    await this.events.stop();
    await this.redis.close();
  }
}
