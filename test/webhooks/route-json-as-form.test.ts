/**
 * A JSON delivery sent under `Content-Type: application/x-www-form-urlencoded` (what `curl -d`
 * sends, and senders that never set the header) is read as the JSON it is: its id deduplicates,
 * its type and account are found, and it reaches the user whose account it names and no other.
 * Read as form fields it was one key with no value: typed `unknown`, never deduplicated by its
 * event id, and kept unroutable, while its envelope already showed it as JSON.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, post, standardHeaders, tokens } from './route-harness.js';

let hub: RunningHub;
const linked: Record<string, Connection> = {};

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
  for (const [n, user] of ['alice', 'bob'].entries()) {
    linked[user] = await hub.hub.integrations.connections.link({
      tenant: 'default',
      user,
      integration: 'acme',
      tokens: tokens(n),
      scopes: [],
      accountId: `acct-${user}`,
    });
  }
});
afterAll(() => hub.stop());

async function deliver(body: string, contentType: string, messageId = `msg_${randomUUID()}`) {
  const res = await post(hub, '/webhooks/acme', body, { ...standardHeaders(ACME_SECRET, messageId, body), 'content-type': contentType });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { id: string; routed: number; duplicate: boolean };
  return { answer, stored: await hub.hub.inbox.inbox.get(answer.id) };
}

describe('a JSON delivery labelled as a form', () => {
  it("is typed, routed to the named account's user only, and deduplicated by its event id", async () => {
    const eventId = `evt_${randomUUID()}`;
    const body = JSON.stringify({ id: eventId, type: 'ticket.closed', account_id: 'acct-bob', data: { n: 1 } });
    const first = await deliver(body, 'application/x-www-form-urlencoded');
    expect(first.answer).toMatchObject({ routed: 1, duplicate: false });
    expect(first.stored).toMatchObject({ type: 'ticket.closed', providerEventId: eventId, connection: { id: linked['bob']!.id, user: 'bob' } });
    // The same event again in another delivery (a new message id): one event, by its event id.
    const again = await deliver(body, 'application/x-www-form-urlencoded; charset=utf-8');
    expect(again.answer).toMatchObject({ id: first.answer.id, duplicate: true });
    const alice = await hub.hub.inbox.inbox.list({ integration: 'acme', user: 'alice' });
    expect(alice.map((e) => e.id)).not.toContain(first.answer.id);
  });

  it('a real form is still read as its fields', async () => {
    const body = `id=${randomUUID()}&type=ticket.opened&account_id=acct-alice`;
    const { answer, stored } = await deliver(body, 'application/x-www-form-urlencoded');
    expect(answer.routed).toBe(1);
    expect(stored).toMatchObject({ type: 'ticket.opened', connection: { id: linked['alice']!.id } });
  });
});
