import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, post, standardHeaders, tokens } from './route-harness.js';

/**
 * A signed delivery whose JSON nests past what JSON.stringify survives was stored and routed, and
 * from then on its user's recent_events and events resource failed with "Maximum call stack size
 * exceeded" until newer events pushed it out. The route refuses it as a bad body before storing.
 */

let hub: RunningHub;
let client: Client;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
  // hub.token is alice's.
  await hub.hub.integrations.connections.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-deep' });
  client = new Client({ name: 'deep-webhook', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
});
afterAll(async () => {
  await client?.close().catch(() => {});
  await hub?.stop();
});

async function deliver(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await post(hub, '/webhooks/acme', body, standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body));
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function recentIds(): Promise<string[]> {
  const r = await client.callTool({ name: 'acme__recent_events', arguments: {} });
  expect(r.isError ?? false, JSON.stringify(r)).toBe(false);
  return (r.structuredContent as { events: Array<{ id: string }> }).events.map((e) => e.id);
}

describe('a signed webhook nesting too deeply', () => {
  it('is refused 400 bad_body before it is stored; a normal delivery is still taken and the feed stays readable', async () => {
    const ok = await deliver(JSON.stringify({ id: 'evt_flat', type: 'ticket.updated', account_id: 'acct-deep' }));
    expect(ok).toMatchObject({ status: 200, json: { ok: true, routed: 1 } });
    await eventually(async () => (await recentIds()).includes(String(ok.json['id'])));

    const depth = 20_000;
    const deep = `{"id":"evt_deep","type":"ticket.updated","account_id":"acct-deep","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const refused = await deliver(deep);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({ error: { code: 'bad_body', message: 'the body nests deeper than 256 levels' } });

    // Nothing stored: the inbox holds the one flat event, and the user's events read as before.
    const kept = await hub.hub.inbox.inbox.list({ integration: 'acme', limit: 10_000 });
    expect(kept.map((e) => e.id)).toEqual([ok.json['id']]);
    expect(await recentIds()).toEqual([ok.json['id']]);
    const read = await client.readResource({ uri: 'switchboard://events/acme' });
    expect(read.contents[0]).toBeDefined();

    // Nesting within the limit is a body like any other.
    const fine = await deliver(`{"id":"evt_nested","type":"ticket.updated","account_id":"acct-deep","x":${'['.repeat(200)}${']'.repeat(200)}}`);
    expect(fine).toMatchObject({ status: 200, json: { ok: true, routed: 1 } });
    await eventually(async () => (await recentIds()).includes(String(fine.json['id'])));
  });

  it('an event stored before the route refused such bodies reads as its text, and the feed around it as JSON', async () => {
    const deep = `{"id":"evt_old","x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const old = await hub.hub.inbox.inbox.accept({
      integration: 'acme',
      deliveryId: `msg_${randomUUID()}`,
      connection: { id: (await hub.hub.integrations.connections.find('default', 'alice', 'acme'))!.id, tenant: 'default', user: 'alice' },
      type: 'ticket.updated',
      payload: Buffer.from(deep),
    });
    const after = await deliver(JSON.stringify({ id: 'evt_after', type: 'ticket.updated', account_id: 'acct-deep' }));
    expect(after.status).toBe(200);
    const events = await eventually(async () => {
      const r = await client.callTool({ name: 'acme__recent_events', arguments: {} });
      expect(r.isError ?? false, JSON.stringify(r).slice(0, 300)).toBe(false);
      const list = (r.structuredContent as { events: Array<{ id: string; payload: unknown }> }).events;
      return list.some((e) => e.id === old.eventId) && list.some((e) => e.id === after.json['id']) ? list : undefined;
    });
    expect(events.find((e) => e.id === old.eventId)?.payload).toBe(deep);
    expect(events.find((e) => e.id === after.json['id'])?.payload).toMatchObject({ id: 'evt_after' });
    const read = await client.readResource({ uri: 'switchboard://events/acme' });
    expect(read.contents[0]).toBeDefined();
  });
});
