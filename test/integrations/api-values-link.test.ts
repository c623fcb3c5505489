/**
 * A link learns the values of apiBaseUrl's placeholders (README: Linked accounts): Salesforce's
 * `instance_url` off the token response, Jira Cloud's cloud id from accessible-resources asked of
 * the base's fixed origin with the new access token. A value that is no https origin (http on
 * loopback only), is on a host allowedHosts does not list, or cannot be learned fails the link and
 * stores nothing; the account id's request goes to the connection's own base.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { expectLinked, FakeProvider, linkAs } from './api-values-provider.js';

let provider: FakeProvider;
let hub: RunningHub;

const TOOLS = { whoami: { description: 'Who am I.', method: 'GET', path: '/whoami', readOnly: true } };
const oauth = () => provider.oauthConfig();

beforeAll(async () => {
  provider = await FakeProvider.start();
  hub = await startHub({
    integrations: {
      sf: {
        type: 'custom',
        title: 'Salesforce',
        oauth: oauth(),
        apiBaseUrl: '{instanceUrl}/services/data/v61.0',
        account: { values: { instanceUrl: 'token:instance_url' }, from: { request: '/whoami', at: 'login' } },
        allowedHosts: ['127.0.0.1', 'localhost'],
        tools: TOOLS,
      },
      jira: {
        type: 'custom',
        title: 'Jira',
        oauth: oauth(),
        apiBaseUrl: `${provider.jiraOrigin}/ex/jira/{cloudId}/rest/api/3`,
        account: { values: { cloudId: { request: '/oauth/token/accessible-resources', at: '0.id' } } },
        tools: TOOLS,
      },
    },
  });
});
afterAll(async () => {
  await hub.stop();
  await provider.close();
});
afterEach(() => {
  provider.seen.length = 0;
});

const connection = async (user: string, integration: string) => hub.hub.integrations.connections.find('default', user, integration);

describe('a link of an integration whose base is learned per account', () => {
  it("stores each user's Salesforce instance, and asks the account id of that instance only", async () => {
    provider.instanceUrl.set('alice', provider.siteA).set('bob', provider.siteB);
    expectLinked(await linkAs(hub, new Browser(), provider, 'sf', 'alice'));
    expectLinked(await linkAs(hub, new Browser(), provider, 'sf', 'bob'));
    expect(await connection('alice', 'sf')).toMatchObject({ apiValues: { instanceUrl: provider.siteA }, accountId: 'alice' });
    expect(await connection('bob', 'sf')).toMatchObject({ apiValues: { instanceUrl: provider.siteB }, accountId: 'bob' });
    expect(provider.seen.map((s) => [s.site, s.path, provider.ownerOf(s.token)])).toEqual([
      [provider.siteA, '/services/data/v61.0/whoami', 'alice'],
      [provider.siteB, '/services/data/v61.0/whoami', 'bob'],
    ]);
  });

  it("stores each user's Jira cloud id, asked of the fixed origin with the new token", async () => {
    provider.cloudIds.set('alice', ['cloud-a']).set('bob', ['cloud/b']);
    expectLinked(await linkAs(hub, new Browser(), provider, 'jira', 'alice'));
    expectLinked(await linkAs(hub, new Browser(), provider, 'jira', 'bob'));
    expect((await connection('alice', 'jira'))?.apiValues).toEqual({ cloudId: 'cloud-a' });
    expect((await connection('bob', 'jira'))?.apiValues).toEqual({ cloudId: 'cloud/b' });
    expect(provider.seen.map((s) => [s.path, provider.ownerOf(s.token)])).toEqual([
      ['/oauth/token/accessible-resources', 'alice'],
      ['/oauth/token/accessible-resources', 'bob'],
    ]);
  });

  it('fails, storing nothing, when the instance is no https origin, is on a host not allowed, or is missing', async () => {
    const refused = async (user: string, instance: string | undefined, said: string) => {
      if (instance === undefined) provider.instanceUrl.delete(user);
      else provider.instanceUrl.set(user, instance);
      const r = await linkAs(hub, new Browser(), provider, 'sf', user);
      expect(r.status, r.html).toBe(400);
      expect(r.html).toContain('Salesforce was not linked');
      expect(r.html).toContain(said);
      expect(await connection(user, 'sf')).toBeUndefined();
    };
    await refused('carol', 'http://acme.my.salesforce.com', 'is not an https URL');
    await refused('carol', 'https://evil.example', 'names a host allowedHosts does not list');
    await refused('carol', `${provider.siteA}/services`, 'is not an origin alone');
    await refused('carol', `http://user:pw@127.0.0.1:9`, 'is not an origin alone');
    await refused('carol', undefined, 'the token response has no token:instance_url');
    // No request went anywhere with carol's tokens, and each grant the provider made is withdrawn.
    expect(provider.seen).toEqual([]);
    await eventually(() => (provider.revoked.length === 5 ? true : undefined));
    expect(provider.revoked.every((t) => t.startsWith('rt-carol-'))).toBe(true);
  });

  it('fails when accessible-resources lists no site, or the value could climb out of the base', async () => {
    for (const [user, clouds] of [
      ['dave', []],
      ['erin', ['..']],
    ] as const) {
      provider.cloudIds.set(user, [...clouds]);
      const r = await linkAs(hub, new Browser(), provider, 'jira', user);
      expect(r.status, r.html).toBe(400);
      expect(r.html).toContain(clouds.length === 0 ? 'GET /oauth/token/accessible-resources has no 0.id' : 'cannot be a path segment');
      expect(await connection(user, 'jira')).toBeUndefined();
    }
  });

  it('a relink that fails its checks keeps the connection as it was', async () => {
    provider.instanceUrl.set('alice', 'https://evil.example');
    const r = await linkAs(hub, new Browser(), provider, 'sf', 'alice');
    expect(r.status).toBe(400);
    expect(await connection('alice', 'sf')).toMatchObject({ state: 'active', apiValues: { instanceUrl: provider.siteA } });
    // Nothing of alice's is revoked: at some providers that would end the grant the kept connection
    // uses. A first link failing after it (frank's) is revoked, so alice's would have come by then.
    provider.instanceUrl.set('frank', 'https://evil.example');
    expect((await linkAs(hub, new Browser(), provider, 'sf', 'frank')).status).toBe(400);
    await eventually(() => (provider.revoked.some((t) => t.startsWith('rt-frank-')) ? true : undefined));
    expect(provider.revoked.filter((t) => t.startsWith('rt-alice-'))).toEqual([]);
  });
});
