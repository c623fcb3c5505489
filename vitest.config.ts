import { defineConfig } from 'vitest/config';

/**
 * Files that run in a worker of their own. Their timing is the point: the fastmcp server's unannounced
 * list changes are followed within seconds, and the supervisor's crash/restart cycles are paced by
 * backoff; whatever an earlier file left running in a shared worker (a server closing, a timer) can
 * slow them past their waits.
 */
const ISOLATED = ['test/mcp/fastmcp-downstream.test.ts', 'test/mcp/supervisor.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn real child processes and listen on loopback; two cores want few workers.
    maxWorkers: 2,
    pool: 'forks',
    // Include and exclude are per project only: a project's arrays are added to the root's, not put in their place.
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          // test/pg needs PostgreSQL (and Redis): `npm run test:pg`, with its own config.
          exclude: ['test/pg/**', '**/node_modules/**', ...ISOLATED],
          // A worker keeps the modules it loaded from one test file to the next. Isolated, each of
          // ~500 files loaded the hub's ~350 modules afresh, and that import was a third of the
          // suite's time (346 of ~1160 worker-seconds here, more on slower machines). Tests share no
          // module state they rely on: each builds its own hub, store and clock.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
    ],
  },
});
