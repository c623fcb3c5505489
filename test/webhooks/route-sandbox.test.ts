import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import type { HostedProvider } from '../../src/integrations/hosted.js';
import { createSandbox, type Sandbox } from '../../servers/sandbox/index.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, followLink } from '../integrations/browser.js';

/**
 * The loop `serve` shows with no config file: the hub hosts the sandbox and hands it the
 * app-level webhook endpoint and its secret; a user links an account (the hub learns its username
 * from GET /api/me), changes a ticket, and the signed event lands in the inbox routed to that
 * user's connection. The provider is mounted as servers/sandbox/hosted.ts mounts it, with the
 * sandbox object kept so the test can wait for its deliveries (`flush`).
 */
let sandbox: Sandbox | undefined;
const hosted: HostedProvider = {
  integration: 'sandbox',
  clientId: 'switchboard',
  mount(app, ctx) {
    sandbox = createSandbox({
      issuer: `${ctx.publicUrl}/sandbox`,
      clients: [{ id: ctx.client.id, secret: ctx.client.secret, redirectUris: [ctx.client.redirectUri] }],
      dbFile: ':memory:',
      clock: ctx.clock,
      ...(ctx.webhooks ? { webhooks: ctx.webhooks } : {}),
    });
    app.get(sandbox.wellKnownPath, (_req, res) => void res.json(sandbox!.metadata));
    app.use('/sandbox', sandbox.router);
    return () => sandbox?.close();
  },
};

let hub: RunningHub;
let origin: string;

beforeAll(async () => {
  hub = await startHub({ integrations: { sandbox: {} } }, { hosted: [hosted] });
  origin = new URL(hub.url).origin;
});
afterAll(() => hub.stop());

async function linkUser(username: string): Promise<Connection> {
  const user = `u-${randomUUID().slice(0, 8)}`;
  const who = { tenant: 'default', user, scopes: [] };
  const done = await followLink(new Browser(), hub.hub.integrations.accounts.linkUrl(who, 'sandbox'), username);
  expect(done.status, done.html).toBe(200);
  const c = await hub.hub.integrations.connections.find('default', user, 'sandbox');
  if (!c) throw new Error('not linked');
  return c;
}

/** Creates a ticket through the sandbox API as the linked account (its access token from the vault). */
async function createTicket(c: Connection, title: string): Promise<string> {
  const { accessToken } = await hub.hub.integrations.connections.tokens(c);
  const res = await fetch(`${origin}/sandbox/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe('the hosted sandbox end to end', () => {
  it('a linked account learns its username; a ticket created for it arrives as a verified event routed to its connection, done by the worker', async () => {
    const alice = await linkUser(`alice-${randomUUID().slice(0, 6)}`);
    const bob = await linkUser(`bob-${randomUUID().slice(0, 6)}`);
    expect(alice.accountId).toMatch(/^alice-/);
    expect(bob.accountId).toMatch(/^bob-/);

    const ticket = await createTicket(alice, 'The printer is on fire');
    await sandbox!.flush();
    expect(sandbox!.deliveryStats()).toMatchObject({ failed: 0 });
    const events = await eventually(async () => {
      const list = await hub.hub.inbox.inbox.list({ integration: 'sandbox', user: alice.user });
      return list.length > 0 && list.every((e) => e.state === 'done') ? list : undefined;
    });
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ type: 'ticket.created', source: 'webhook', connection: { id: alice.id, tenant: 'default', user: alice.user } });
    const payload = JSON.parse(e.payload.toString('utf8')) as { id: string; account_id: string; data: { ticket: { id: string } } };
    expect(payload).toMatchObject({ account_id: alice.accountId, data: { ticket: { id: ticket } } });
    expect(e.providerEventId).toBe(payload.id);
    // Bob's connection heard nothing of it, and nothing went unroutable.
    expect(await hub.hub.inbox.inbox.list({ integration: 'sandbox', user: bob.user })).toEqual([]);
    expect(await hub.hub.inbox.inbox.list({ integration: 'sandbox', unroutable: true })).toEqual([]);

    await createTicket(bob, 'Coffee machine');
    await sandbox!.flush();
    const bobs = await eventually(async () => {
      const list = await hub.hub.inbox.inbox.list({ integration: 'sandbox', user: bob.user });
      return list.length === 1 ? list : undefined;
    });
    expect(bobs[0]!.connection?.id).toBe(bob.id);
    expect(await hub.hub.inbox.inbox.list({ integration: 'sandbox', user: alice.user })).toHaveLength(1);
  });

  it('the sandbox signs with the secret the hub keeps: a delivery signed with anything else is refused', async () => {
    const body = JSON.stringify({ id: 'evt_x', type: 'ticket.created', account_id: 'nobody', occurred_at: new Date().toISOString(), data: {} });
    const res = await fetch(`${origin}/webhooks/sandbox`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': `v1,${'A'.repeat(43)}=`,
      },
      body,
    });
    expect(res.status).toBe(401);
  });
});
