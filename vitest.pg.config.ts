import { defineConfig } from 'vitest/config';

// The suites that need PostgreSQL (and, later, Redis): `npm run test:pg`. `npm test` excludes them.
export default defineConfig({
  test: {
    include: ['test/pg/**/*.test.ts'],
    globalSetup: ['./test/pg/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores, and one PostgreSQL server beside the workers.
    maxWorkers: 2,
    pool: 'forks',
  },
});
