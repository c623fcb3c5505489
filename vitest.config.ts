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
    // Each worker keeps the modules it loaded from one test file to the next. Isolated, every one
    // of ~490 files loaded the hub's ~350 modules afresh: two thirds of the suite's time was that
    // import. Tests share no module state they rely on: each builds its hub, store and clock.
    isolate: false,
  },
});
