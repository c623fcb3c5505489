/**
 * Tool listing reads each identity's connection states from memory, kept fresh by the
 * connections' change feed (issue 7 item 6): two users side by side on one hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { identityKey, type Identity } from '../../src/identity/identity.js';
import type { SourceChange } from '../../src/mcp/source.js';
import { silentLogger } from '../../src/observability/logger.js';

const acme = {
  type: 'custom',
  oauth: { authorizeUrl: 'https://acme.test/authorize', tokenUrl: 'https://acme.test/token', clientId: 'id', clientSecret: 'secret', scopes: ['read'] },
  apiBaseUrl: 'https://api.acme.test',
  tools: { things: { description: 'Lists things', method: 'GET', path: '/things', readOnly: true } },
};

const alice: Identity = { tenant: 'default', user: 'alice', scopes: ['mcp'] };
const bob: Identity = { tenant: 'default', user: 'bob', scopes: ['mcp'] };
const tokens = { accessToken: 'at', refreshToken: 'rt', tokenType: 'Bearer' };

describe('tool listing from the per-identity connection states', () => {
  let hub: Hub;
  const heard: SourceChange[] = [];
  const listed = (who: Identity) => hub.catalog.listTools(who, undefined).items.map((t) => [t.name, t._meta?.['switchboard/connection']]);

  beforeAll(async () => {
    hub = new Hub({ config: configSchema.parse({ integrations: { acme } }), dataDir: ':memory:', log: silentLogger() });
    // Linked before start: the first load reads it.
    await hub.integrations.accounts.connections.link({ ...bob, integration: 'acme', tokens, scopes: ['read'] });
    await hub.start();
    hub.catalog.onChange((c) => heard.push(c));
  });

  afterAll(() => hub.stop());

  it('loads the states at start: bob linked, alice not', () => {
    expect(listed(bob)).toEqual([['acme__things', 'active']]);
    expect(listed(alice)).toEqual([['acme__things', 'unlinked']]);
  });

  it('reads no SQL per list: a row written behind the feed’s back is not seen until it is published', async () => {
    const c = await hub.integrations.accounts.connections.link({ ...alice, integration: 'acme', tokens, scopes: ['read'] });
    expect(listed(alice)).toEqual([['acme__things', 'unlinked']]);
    heard.length = 0;
    await hub.integrations.accounts.changed(c);
    expect(listed(alice)).toEqual([['acme__things', 'active']]);
    expect(listed(bob)).toEqual([['acme__things', 'active']]);
    // Only alice's clients are told.
    expect(heard.map((h) => h.identities?.map(identityKey))).toEqual([['default/alice']]);
  });

  it('a revocation and a needs_reauth move only their owner’s list', async () => {
    const bobs = (await hub.integrations.accounts.connections.find(bob.tenant, bob.user, 'acme'))!;
    await hub.integrations.accounts.connections.markNeedsReauth(bobs.id, 'the provider refused the refresh token');
    await hub.integrations.accounts.changed(bobs);
    expect(listed(bob)).toEqual([['acme__things', 'needs_reauth']]);
    const alices = (await hub.integrations.accounts.connections.find(alice.tenant, alice.user, 'acme'))!;
    await hub.integrations.accounts.revoke(alices);
    expect(listed(alice)).toEqual([['acme__things', 'unlinked']]);
    expect(listed(bob)).toEqual([['acme__things', 'needs_reauth']]);
  });

  it('the feed publishes states only, never tokens', async () => {
    const seen: unknown[] = [];
    const off = hub.integrations.feed.subscribe((c) => seen.push(c));
    const c = await hub.integrations.accounts.connections.link({ ...alice, integration: 'acme', tokens, scopes: ['read'] });
    await hub.integrations.accounts.changed(c);
    off();
    expect(seen).toEqual([{ id: c.id, tenant: 'default', user: 'alice', integration: 'acme', state: 'active' }]);
  });
});
