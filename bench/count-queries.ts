/**
 * Preloaded into a hub process by `npm run bench:store` (`node --import`): counts what the hub asks
 * of its store — every `pg` client query (one database round trip each, BEGIN and COMMIT included,
 * as the pool runs them all through `Client#query`) and every better-sqlite3 statement run (no
 * round trip, but the same unit of work). On SIGUSR2 it writes the totals as JSON to the file
 * named by SWITCHBOARD_BENCH_COUNT_FILE, so the bench reads them from outside without a route.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const counts = { pg: 0, sqlite: 0 };

type Method = (this: unknown, ...args: unknown[]) => unknown;

function counting(proto: Record<string, unknown>, names: readonly string[], key: keyof typeof counts): void {
  for (const name of names) {
    const original = proto[name] as Method | undefined;
    if (typeof original !== 'function') continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      counts[key]++;
      return original.apply(this, args);
    };
  }
}

// The hub imports these same CommonJS modules (ESM default import of the cached module), so the
// prototypes patched here are the ones its pools and statements use.
const pg = require('pg') as { Client: { prototype: Record<string, unknown> } };
counting(pg.Client.prototype, ['query'], 'pg');

const Database = require('better-sqlite3') as new (file: string) => { prepare(sql: string): object; close(): void };
const probe = new Database(':memory:');
counting(Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>, ['run', 'get', 'all', 'iterate'], 'sqlite');
counting(Object.getPrototypeOf(probe) as Record<string, unknown>, ['exec'], 'sqlite');
probe.close();

const file = process.env.SWITCHBOARD_BENCH_COUNT_FILE;
if (file)
  process.on('SIGUSR2', () => {
    writeFileSync(file, JSON.stringify(counts));
  });
