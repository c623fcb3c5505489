export { RedisBuckets, type RedisBucketOptions } from './bucket.js';
export type { Adjustment, BucketRef, Take } from '../pacing/shared.js';
export { RedisPacer, type RedisPacerOptions } from './pacer.js';
export { RedisBreakers, type RedisBreakerOptions } from './breakers.js';
export { type Breakers, localBreakers, localPacer, type PacerWithState } from './shapes.js';
