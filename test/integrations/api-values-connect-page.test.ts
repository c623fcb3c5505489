/**
 * /connect shows, beside the account, the values a connection's link learned for its API base
 * (README: A base per linked account): which Jira site or Salesforce org the user's calls go to.
 * The provider chose them, so they are escaped like every text of the page.
 */
import { expect, it } from 'vitest';
import type { Connection } from '../../src/connections/types.js';
import { connectPage } from '../../src/http/connect-page.js';

const NOW = Date.UTC(2026, 11, 7, 12);

function conn(over: Partial<Connection>): Connection {
  return {
    id: 'conn_a',
    state: 'active',
    createdAt: NOW - 3_600_000,
    lastRefreshAt: null,
    accessExpiresAt: null,
    refreshFailures: 0,
    accountId: null,
    apiValues: {},
    ...over,
  } as Connection;
}

const render = (connection: Connection) =>
  connectPage({
    identity: { tenant: 'default', user: 'alice', scopes: [] },
    rows: [{ name: 'jira', title: 'Jira', description: undefined, connection }],
    now: NOW,
    linkUrl: () => 'http://127.0.0.1/link',
    csrf: 'c',
    sessionEndsAt: NOW + 60_000,
    notice: '',
  });

it("shows the account and the base's learned values beside it, escaped", () => {
  expect(render(conn({ accountId: 'acc-1', apiValues: { cloudId: 'cloud-a' } }))).toContain(
    '<small class="account">Linked account <code>acc-1</code>, cloudId <code>cloud-a</code></small>',
  );
  const page = render(conn({ apiValues: { instanceUrl: 'https://acme.my.salesforce.com', site: '<img src=x onerror=alert(1)>' } }));
  expect(page).toContain('instanceUrl <code>https://acme.my.salesforce.com</code>, site <code>&lt;img src=x onerror=alert(1)&gt;</code>');
  expect(page).not.toContain('<img');
});

it('shows nothing of them for a connection with none, or a revoked one', () => {
  expect(render(conn({}))).not.toContain('class="account"');
  expect(render(conn({ state: 'revoked', apiValues: { cloudId: 'cloud-a' } }))).not.toContain('cloud-a');
});
