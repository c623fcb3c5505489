import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { api, startSandbox, type Harness } from '../sandbox/harness.js';
import { SANDBOX_FEED, linkUser, manualTimer, polledIntegration } from './harness.js';

/**
 * A poll's pages go through the integration's `rateLimit` as its tools' calls do: they spend the
 * connection's one budget at the provider. The hub runs on the real clock here (its token buckets
 * refill by it); the scheduler's timer is still the test's, so a poll runs when the test ticks.
 */

let h: Harness | undefined;
let hub: RunningHub | undefined;

afterEach(async () => {
  await hub?.stop();
  await h?.close();
});

describe('polling within the rate limit', () => {
  it("a backlog of three pages is read at the connection's pace, not in one burst", async () => {
    /** When each of the poller's page requests reached the provider (ms, monotonic). */
    const arrivals: number[] = [];
    h = await startSandbox({ rateLimit: { perSecond: 1000, burst: 1000 } }, (app) =>
      app.use((req, _res, next) => {
        // The poller's requests only: the test's own reads below pass limit.
        if (req.path === '/sandbox/api/events' && req.query['limit'] === undefined) arrivals.push(performance.now());
        next();
      }),
    );
    const integration = polledIntegration(h.issuer, SANDBOX_FEED, { rateLimit: { perConnection: { perSecond: 4, burst: 1 } } });
    hub = await startHub({ integrations: { tickets: integration } }, { polling: { timer: manualTimer(), random: () => 0.5 } });
    const c = await linkUser(hub, { now: () => Date.now() }, h, 'alice');
    const token = (await hub.hub.integrations.connections.tokens(c)).accessToken;
    for (let i = 0; i < 120; i++) await api(h, 'POST', '/tickets', token, { title: `t${i}` });

    expect(await hub.hub.pollers.tick()).toBe(1);
    // 50 + 50 + 20 events: three pages, each waiting for a token of a 4/s bucket holding one.
    expect(arrivals).toHaveLength(3);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(200);
    expect(new Set((await hub.hub.inbox.inbox.list({ integration: 'tickets', limit: 1000 })).map((e) => e.providerEventId)).size).toBe(120);
  });
});
