export { type Adjustment, type BucketRef, RedisBuckets, type RedisBucketOptions, type Take } from './bucket.js';
export { RedisPacer, type RedisPacerOptions } from './pacer.js';
export { RedisBreakers, type RedisBreakerOptions } from './breakers.js';
export { type Breakers, localBreakers, localPacer, type PacerWithState } from './shapes.js';
