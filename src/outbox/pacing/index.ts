export { type BucketSpec, type BucketState, realTimers, type Timers } from './bucket.js';
export { type BucketPacer, type BucketPacerOptions, createBucketPacer } from './pacer.js';
