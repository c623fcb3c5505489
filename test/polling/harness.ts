import type { Connection } from '../../src/connections/types.js';
import { manualClock } from '../../src/clock.js';
import type { Timer } from '../../src/polling/scheduler.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { T0, link, type Peer } from '../sandbox/harness.js';

export const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

/** A timer that never fires on its own: a test runs the scheduler's tick itself, so nothing sleeps. */
export function manualTimer(): Timer & { scheduled: number[] } {
  const scheduled: number[] = [];
  return { scheduled, set: (_fn, ms) => scheduled.push(ms), clear: () => {} };
}

/** A custom integration in config on a provider at `apiBaseUrl` (the sandbox's API, or a local server), with one polled feed. */
export function polledIntegration(issuer: string, feed: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    type: 'custom',
    title: 'Tickets',
    oauth: {
      authorizeUrl: `${issuer}/oauth/authorize`,
      tokenUrl: `${issuer}/oauth/token`,
      clientId: 'hub',
      clientSecret: 'hub-secret',
      scopes: ['read', 'write'],
    },
    apiBaseUrl: `${issuer}/api`,
    tools: { ping: { description: 'ping', method: 'GET', path: '/me', readOnly: true } },
    poll: { events: feed },
    ...extra,
  };
}

/** The sandbox's events feed, as the built-in sandbox definition declares it. */
export const SANDBOX_FEED = { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type' };

export interface PollingHub extends RunningHub {
  clock: ReturnType<typeof manualClock>;
  timer: ReturnType<typeof manualTimer>;
}

/** A hub on a fresh data dir (a real SQLite file), its clock and the scheduler's timer in the test's hands. */
export async function pollingHub(integrations: Record<string, unknown>, dataDir?: string): Promise<PollingHub> {
  const clock = manualClock(T0);
  const timer = manualTimer();
  const h = await startHub({ integrations, ...(dataDir ? { dataDir } : {}) }, { clock, polling: { timer, random: () => 0.5 } });
  return { ...h, clock, timer };
}

/**
 * Links `user` as the hub's OAuth callback would: a token pair from the provider's own flow,
 * stored as the connection (with the provider's account id), and the change published on the
 * connections' feed, which is what starts its pollers.
 */
export async function linkUser(
  hub: RunningHub,
  clock: { now(): number },
  provider: Peer | { accessToken: string },
  user: string,
  integration = 'tickets',
): Promise<Connection> {
  const tokens = 'accessToken' in provider ? { access_token: provider.accessToken, refresh_token: 'unused' } : await link(provider, user);
  const i = hub.hub.integrations;
  const c = await i.connections.link({
    tenant: 'default',
    user,
    integration,
    tokens: { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, tokenType: 'Bearer', expiresAt: clock.now() + 24 * 3_600_000 },
    scopes: ['read', 'write'],
    accountId: user,
  });
  i.feed.publish({ id: c.id, tenant: c.tenant, user: c.user, integration, state: 'active' });
  // The feed's listener adds the pollers asynchronously (one store write each).
  for (let n = 0; n < 50 && !hub.hub.pollers.keys().some((k) => k.connectionId === c.id); n++) await new Promise((r) => setImmediate(r));
  return c;
}
