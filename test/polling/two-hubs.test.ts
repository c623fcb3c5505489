import { afterEach, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import { CHANGES_FEED, startChangesServer, type ChangesServer } from './changes-server.js';
import { linkUser, manualTimer, pollingHub, polledIntegration, type PollingHub } from './harness.js';

let server: ChangesServer;
let a: PollingHub;
let b: Hub;

afterEach(async () => {
  await b?.stop();
  await a?.stop();
  await server?.close();
});

it('two hubs on one data dir never poll one feed at the same time: the lease goes to one, the other skips it', async () => {
  server = await startChangesServer();
  const integrations = { tickets: polledIntegration(server.issuer, CHANGES_FEED) };
  a = await pollingHub(integrations);
  const c = await linkUser(a, a.clock, { accessToken: 'at-1' }, 'alice');
  // A second process on the same SQLite file (its own connection to it), sharing the clock.
  const config = configSchema.parse({ integrations, dataDir: a.dataDir, server: { port: 0 } });
  b = new Hub({ config, clock: a.clock, dataDir: a.dataDir, log: silentLogger(), polling: { timer: manualTimer(), random: () => 0.5 } });
  await b.start();
  expect(b.pollers.keys()).toEqual([{ connectionId: c.id, feed: 'events' }]);
  expect(b.pollers.owner).not.toBe(a.hub.pollers.owner);

  server.changes = [{ id: 'x1', ts: 1, kind: 'k' }];
  let open!: () => void;
  server.gate = new Promise<void>((r) => {
    open = r;
  });
  // A's request is held at the provider: B, due at the same instant, finds the lease taken.
  const first = a.hub.pollers.tick();
  await expect.poll(() => server.inFlight).toBe(1);
  expect(await b.pollers.tick()).toBe(0);
  open();
  server.gate = undefined;
  expect(await first).toBe(1);

  // Due again: both look at once, one runs it.
  for (let round = 0; round < 5; round++) {
    server.changes.push({ id: `y${round}`, ts: 2 + round, kind: 'k' });
    a.clock.advance(60_000);
    const ran = await Promise.all([a.hub.pollers.tick(), b.pollers.tick()]);
    expect(ran[0] + ran[1]).toBe(1);
  }
  expect(server.maxInFlight).toBe(1);
  expect(server.requests).toHaveLength(6);
  const events = await a.hub.inbox.inbox.list({ integration: 'tickets' });
  expect(events.map((e) => e.providerEventId).sort()).toEqual(['x1', 'y0', 'y1', 'y2', 'y3', 'y4']);
});
