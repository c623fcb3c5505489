/**
 * A delivery whose JSON starts with a UTF-8 byte-order mark (as .NET and PowerShell senders write
 * it) is JSON all the same (RFC 8259 §8.1 lets a reader ignore the mark; /mcp's body parser does):
 * its signature is checked on the bytes as sent, its selectors read the JSON, and its owner reads
 * the payload as JSON. It was refused 400 bad_body, so the provider's retries were all lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { connectMcp } from '../integrations/mcp.js';
import { ACME, ACME_SECRET, post, standardHeaders, tokens } from './route-harness.js';

let hub: RunningHub;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
  await hub.hub.integrations.connections.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-A' });
});
afterAll(() => hub.stop());

describe('a webhook body with a byte-order mark', () => {
  it('is verified on its bytes, routed by its JSON, and read back as JSON by its owner', async () => {
    const body = `\ufeff${JSON.stringify({ id: 'ev-bom', type: 'ticket.updated', account_id: 'acct-A' })}`;
    const res = await post(hub, '/webhooks/acme', body, standardHeaders(ACME_SECRET, 'msg-bom', body));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, routed: 1 });
    await hub.hub.inbox.worker.drain();
    const alice = await connectMcp(hub.url, hub.token, { era: 'auto' });
    try {
      const r = await alice.call('acme__recent_events', {});
      expect(r.isError ?? false).toBe(false);
      const { events } = r.structuredContent as { events: Array<{ type: string; payload: unknown }> };
      expect(events).toEqual([expect.objectContaining({ type: 'ticket.updated', payload: { id: 'ev-bom', type: 'ticket.updated', account_id: 'acct-A' } })]);
    } finally {
      await alice.close();
    }
  });
});
