import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Those need PostgreSQL (and Redis): `npm run test:pg`, with its own config.
    exclude: ['test/pg/**', '**/node_modules/**'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn real child processes and listen on loopback; two cores want few workers.
    maxWorkers: 2,
    pool: 'forks',
  },
});
