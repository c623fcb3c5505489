import { expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { connectPage } from '../../src/http/connect-page.js';
import type { PollerStatus } from '../../src/polling/scheduler.js';

const NOW = Date.UTC(2026, 3, 1, 12);
const connection = {
  id: 'con_a',
  state: 'active',
  createdAt: NOW - 3_600_000,
  lastRefreshAt: null,
  accessExpiresAt: null,
  refreshFailures: 0,
} as unknown as Connection;

function poller(over: Partial<PollerStatus>): PollerStatus {
  return {
    connectionId: 'con_a',
    feed: 'events',
    integration: 'sandbox',
    tenant: 'default',
    user: 'alice',
    state: 'active',
    reason: null,
    intervalMs: 120_000,
    nextRunAt: NOW,
    pausedUntil: null,
    lastPollAt: NOW - 40_000,
    lastEventAt: null,
    eventsTotal: 3,
    failures: 0,
    lastError: null,
    ...over,
  };
}

const render = (pollers: PollerStatus[]) =>
  connectPage({
    identity: { tenant: 'default', user: 'alice', scopes: [] },
    rows: [{ name: 'sandbox', title: 'Sandbox Tickets', description: undefined, connection }],
    now: NOW,
    linkUrl: () => 'http://127.0.0.1/link',
    csrf: 'c',
    sessionEndsAt: NOW + 60_000,
    notice: '',
    pollers,
  });

it('/connect shows a line per poller of the connection: its schedule, or why it is stalled (escaped)', () => {
  expect(render([poller({})])).toContain('<small class="poll active">Polling events: every 2 min, last poll 40 s ago</small>');
  const stalled = render([
    poller({ state: 'stalled', reason: '5 polls in a row failed; the last: <b>500</b>' }),
    poller({ connectionId: 'con_other', feed: 'other' }),
  ]);
  expect(stalled).toContain('<small class="poll stalled">Polling events: stalled: 5 polls in a row failed; the last: &lt;b&gt;500&lt;/b&gt;</small>');
  expect(stalled).not.toContain('Polling other');
});
