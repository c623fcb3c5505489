import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, post, standardHeaders, tokens } from '../webhooks/route-harness.js';

/**
 * A re-link replaces what the connection knew of its provider account. When the account lookup
 * failed on the re-link, the connection has no account id (events naming an account stay
 * unroutable, kept and listed): the user may have linked another account, and the old one's
 * events must not keep reaching them.
 */
let hub: RunningHub;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: ACME } });
});
afterAll(() => hub.stop());

async function routed(account: string): Promise<unknown> {
  const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'ticket.updated', account_id: account });
  const res = await post(hub, '/webhooks/acme', body, standardHeaders(ACME_SECRET, `msg_${randomUUID()}`, body));
  expect(res.status).toBe(200);
  return ((await res.json()) as { routed: unknown }).routed;
}

describe('re-linking a connection', () => {
  it('whose account lookup failed leaves it with no account id: the old account’s events are no longer routed to it', async () => {
    const repo = hub.hub.integrations.connections;
    const first = await repo.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-A1' });
    expect(await routed('acct-A1')).toBe(1);
    // The lookup failed this time: the flow passes no account id.
    const again = await repo.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(2), scopes: [] });
    expect([again.id, again.accountId]).toEqual([first.id, null]);
    expect((await repo.get(first.id))?.accountId).toBeNull();
    expect(await routed('acct-A1')).toBe(0);
  });

  it('that learned another account routes that one’s events and no longer the old one’s', async () => {
    const repo = hub.hub.integrations.connections;
    await repo.link({ tenant: 'default', user: 'bob', integration: 'acme', tokens: tokens(3), scopes: [], accountId: 'acct-B1' });
    const again = await repo.link({ tenant: 'default', user: 'bob', integration: 'acme', tokens: tokens(4), scopes: [], accountId: 'acct-B2' });
    expect(again.accountId).toBe('acct-B2');
    expect([await routed('acct-B1'), await routed('acct-B2')]).toEqual([0, 1]);
  });

  it('a refresh re-saves the tokens and keeps the account id learned at the link', async () => {
    const repo = hub.hub.integrations.connections;
    const c = await repo.link({ tenant: 'default', user: 'carol', integration: 'acme', tokens: tokens(5), scopes: [], accountId: 'acct-C' });
    const lease = await repo.tryLease(c.id, c.tokenVersion, 'test-owner', 60_000, () => false);
    expect(lease.kind).toBe('acquired');
    expect(await repo.commitRefresh(lease.connection, 'test-owner', tokens(6))).toBe(true);
    const after = await repo.get(c.id);
    expect([after?.tokenVersion, after?.accountId]).toEqual([c.tokenVersion + 1, 'acct-C']);
    expect(await routed('acct-C')).toBe(1);
  });
});
