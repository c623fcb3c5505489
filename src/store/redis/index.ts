export { createRedisClient, maskRedisUrl, type RedisClientOptions, type RedisConfig, redisConfigSchema, type RedisHandle, scrubPassword } from './client.js';
export { type Adjustment, type BucketRef, RedisBuckets, type RedisBucketOptions, type Take } from './bucket.js';
export { RedisPacer, type RedisPacerOptions } from './pacer.js';
export { RedisBreakers, type RedisBreakerOptions } from './breakers.js';
export { type FanoutListener, type HubEvent, hubEventSchema, RedisFanout, type RedisFanoutOptions } from './fanout.js';
export { type Breakers, localBreakers, localPacer, type PacerWithState } from './shapes.js';
