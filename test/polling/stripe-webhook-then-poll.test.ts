import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { post } from '../webhooks/route-harness.js';
import { CHANGES_FEED, startChangesServer, type ChangesServer } from './changes-server.js';
import { linkUser, pollingHub, polledIntegration, type PollingHub } from './harness.js';

/**
 * README (Polling): "Polling is the safety net under webhooks", one change kept once "however it
 * first arrived". A Stripe event's delivery id is its event id (`body:id`), which is also the id its
 * events list shows: with the block as the README writes it (scheme and secrets, no eventIdFrom), an
 * event that came by webhook and then by poll is one event, for its own user only. Slack's
 * `event_id` is read the same way. A local feed over real HTTP, a real SQLite file, the clock injected.
 */

const STRIPE_SECRET = 'whsec_test_secret_for_the_hub';
const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const stripe = new Stripe('sk_test_unused');
let server: ChangesServer;
let hub: PollingHub;
const linked: Record<string, Connection> = {};

beforeEach(async () => {
  server = await startChangesServer();
  const hooks = { webhooks: { scheme: 'stripe', secrets: [STRIPE_SECRET], accountFrom: 'body:account', typeFrom: 'body:kind' } };
  const slack = { webhooks: { scheme: 'slack', secrets: [SLACK_SECRET], accountFrom: 'body:team_id' } };
  hub = await pollingHub({ tickets: polledIntegration(server.issuer, CHANGES_FEED, hooks), chat: polledIntegration(server.issuer, CHANGES_FEED, slack) });
  for (const user of ['alice', 'bob']) linked[user] = await linkUser(hub, hub.clock, { accessToken: `at-${user}` }, user);
});
afterEach(async () => {
  await hub.stop();
  await server.close();
});

const events = async (user: string) =>
  (await hub.hub.inbox.inbox.list({ integration: 'tickets', user, limit: 100 })).map((e) => `${e.providerEventId} ${e.source}`).sort();

describe('a Stripe event that came by webhook before the poll read it', () => {
  it('is kept once, under its event id, for the user whose account it names', async () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', kind: 'charge.succeeded', account: 'alice' });
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET, timestamp: Math.floor(hub.clock.now() / 1000) });
    const res = await post(hub, '/webhooks/tickets', body, { 'content-type': 'application/json', 'stripe-signature': header });
    expect(await res.json()).toMatchObject({ ok: true, duplicate: false, routed: 1 });
    // The same event in the feed of alice's account (the local feed answers every poller alike).
    server.changes = [{ id: 'evt_1', ts: 1, kind: 'charge.succeeded' }];
    await hub.hub.pollers.tick();
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(await events('alice')).toEqual(['evt_1 webhook']);
    // Bob's poller read it from his feed: his own event, not a duplicate of alice's.
    expect(await events('bob')).toEqual(['evt_1 poll']);
  });
});

describe('a Slack Events API delivery', () => {
  it('is kept under its event_id, the id a poll of the same event would name', async () => {
    const c = await linkUser(hub, hub.clock, { accessToken: 'at-slack' }, 'carol', 'chat');
    const body = JSON.stringify({ type: 'event_callback', team_id: 'carol', event_id: 'Ev01', event: { type: 'message' } });
    const ts = String(Math.floor(hub.clock.now() / 1000));
    const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
    const res = await post(hub, '/webhooks/chat', body, {
      'content-type': 'application/json',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': signature,
    });
    const { id } = (await res.json()) as { id: string };
    expect(await hub.hub.inbox.inbox.get(id)).toMatchObject({ providerEventId: 'Ev01', connection: { id: c.id } });
  });
});
