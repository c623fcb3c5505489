import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);

/**
 * A CommonJS package loaded on first use, synchronously. For dependencies that cost start-up
 * time (the stdio face's first answer waits for every static import) but are needed only later.
 */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireCjs(name) as T);
}

/**
 * node:http and node:https (with TLS) on first use: modules the stdio face loads at start import
 * them, and loading both cost its first answer ~10 ms before anything was fetched or served.
 */
export const nodeHttp = lazyRequire<typeof import('node:http')>('node:http');
export const nodeHttps = lazyRequire<typeof import('node:https')>('node:https');
