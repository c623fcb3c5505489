import type { Admission, AttemptOutcome, BreakerSnapshot, CircuitBreakers } from '../breaker.js';
import type { BucketPacer, BucketState } from '../pacing/index.js';
import type { Pacer } from '../../providers/pacing.js';

/**
 * What the hub's wiring can hold whether the state is this process's or shared through Redis.
 * The in-process classes answer synchronously; the Redis ones need a round trip, so the common
 * shape is the asynchronous one, and the in-process ones are lifted into it below.
 */
export interface Breakers {
  add(integration: string): void;
  onChange(listener: (s: BreakerSnapshot) => void): () => void;
  admit(integration: string): Promise<Admission>;
  /** Rejects with `circuit_open` when the attempt may not go; true when it goes as the half-open circuit's probe. */
  check(integration: string): Promise<boolean>;
  record(integration: string, outcome: AttemptOutcome): Promise<void>;
  snapshot(): Promise<BreakerSnapshot[]>;
}

export interface PacerWithState extends Pacer {
  state(key: string): Promise<{ connection?: BucketState; app?: BucketState } | undefined>;
  stop(): Promise<void>;
}

/** `CircuitBreakers` (one process) as `Breakers`. */
export function localBreakers(b: CircuitBreakers): Breakers {
  return {
    add: (i) => b.add(i),
    onChange: (l) => b.onChange(l),
    admit: async (i) => b.admit(i),
    check: async (i) => b.check(i),
    record: async (i, o) => b.record(i, o),
    snapshot: async () => b.snapshot(),
  };
}

/** The in-process bucket pacer as `PacerWithState`. */
export function localPacer(p: BucketPacer): PacerWithState {
  return {
    acquire: (key, signal, withinMs) => p.acquire(key, signal, withinMs),
    observe: (key, answer) => p.observe(key, answer),
    state: async (key) => p.state(key),
    stop: async () => p.stop(),
  };
}
