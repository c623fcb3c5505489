import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { EventEnvelope } from '../../src/webhooks/inbox/types.js';
import { hubErrorOf } from '../helpers/errors.js';

describe('the inbox as a part of the hub', () => {
  it('is declared after the sources; started, its worker handles what the hub accepts; stop commits queued accepts first', async () => {
    const clock = manualClock();
    const config = configSchema.parse({ webhooks: { maxAttempts: 2, retentionDays: 30 } });
    const hub = new Hub({ config, clock, dataDir: ':memory:', log: silentLogger() });
    expect(hub.parts()).toEqual(['store', 'migrate', 'vault', 'keys', 'pacer', 'processes', 'connections', 'sources', 'inbox', 'pollers', 'outbox', 'faces']);
    const seen: EventEnvelope[] = [];
    const first = new Promise<void>((resolve) =>
      hub.inbox.feed.subscribe((e) => {
        seen.push(e);
        resolve();
      }),
    );
    await hub.start();
    const route = { id: 'con_1', tenant: 'default', user: 'alice' };
    const stored = await hub.inbox.inbox.accept({ integration: 'acme', deliveryId: 'd-1', type: 'ticket.created', connection: route, payload: '{"n":1}' });
    await first;
    expect(seen).toEqual([
      { id: stored.eventId, type: 'ticket.created', integration: 'acme', connectionId: 'con_1', source: 'webhook', receivedAt: clock.now(), payload: { n: 1 } },
    ]);
    // Accepted in the tick the hub stops in: committed before the store closes, so the caller's answer holds.
    const late = hub.inbox.inbox.accept({ integration: 'acme', deliveryId: 'd-2', type: 't', connection: route, payload: '{}' });
    await hub.stop();
    expect(await late).toMatchObject({ outcome: 'stored' });
  });

  it('config: webhooks.retentionDays and maxAttempts default to 7 and 8; a bad value names its key', () => {
    expect(configSchema.parse({}).webhooks).toEqual({ retentionDays: 7, maxAttempts: 8, groupCommit: true });
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ webhooks: { retentionDays: 0 } }), 'sb.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/^sb\.json: webhooks\.retentionDays: /);
    expect(hubErrorOf(() => parseConfigText(JSON.stringify({ webhooks: { retries: 3 } }), 'sb.json', {})).message).toContain('unknown key webhooks.retries');
  });
});
