import { defineConfig } from 'vitest/config';

// The suites that need PostgreSQL (and, later, Redis): `npm run test:pg`. `npm test` excludes them.
export default defineConfig({
  test: {
    include: ['test/pg/**/*.test.ts'],
    globalSetup: ['./test/pg/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // One file at a time: a replica test runs three hubs, PostgreSQL and Redis on two cores, and
    // its timing guarantees (zero 429s against a provider's bucket) are about the hub, not about a
    // second file's hubs competing for the same cores.
    maxWorkers: 1,
    pool: 'forks',
  },
});
