/**
 * Every request made for a connection goes to its own base (README: Linked accounts): two users
 * linked side by side to two Salesforce orgs (instances on two hosts) and two Jira sites (cloud ids
 * behind one origin) reach their own with tool calls, queued writes and polls, never the other's;
 * a relink to another site moves them; a connection linked before its integration named a value
 * is offered the link again, and nothing is sent to a half-filled base.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { manualTimer } from '../polling/harness.js';
import { expectLinked, FakeProvider, linkAs } from './api-values-provider.js';

let provider: FakeProvider;
let hub: RunningHub;
const clients = new Map<string, FaceClient>();

const TOOLS = {
  whoami: { description: 'Who am I.', method: 'GET', path: '/whoami', readOnly: true },
  hop: { description: 'Redirected.', method: 'GET', path: '/hop', readOnly: true },
  create: {
    description: 'Creates a record.',
    method: 'POST',
    path: '/records',
    input: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  },
};
const FEED = { events: { path: '/events', cursorParam: 'after', cursorFrom: 'next_cursor', itemsAt: 'events', idAt: 'id', typeFrom: 'type' } };
const oauth = () => provider.oauthConfig();

beforeAll(async () => {
  provider = await FakeProvider.start();
  provider.instanceUrl.set('alice', provider.siteA).set('bob', provider.siteB);
  provider.cloudIds.set('alice', ['cloud-a']).set('bob', ['cloud-b']);
  hub = await startHub(
    {
      integrations: {
        sf: {
          type: 'custom',
          title: 'Salesforce',
          oauth: oauth(),
          apiBaseUrl: '{instanceUrl}/services/data/v61.0',
          account: { values: { instanceUrl: 'token:instance_url' } },
          tools: TOOLS,
          poll: FEED,
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
    },
    { polling: { timer: manualTimer(), random: () => 0.5 } },
  );
  for (const user of ['alice', 'bob', 'carol']) {
    const { token } = await hub.hub.tokens.create({ user });
    clients.set(user, await connectClient('v2-legacy', { transport: 'http', url: hub.url, token }));
  }
  for (const user of ['alice', 'bob']) {
    expectLinked(await linkAs(hub, new Browser(), provider, 'sf', user));
    expectLinked(await linkAs(hub, new Browser(), provider, 'jira', user));
  }
});
afterAll(async () => {
  for (const c of clients.values()) await c.close();
  await hub.stop();
  await provider.close();
});
beforeEach(() => {
  provider.seen.length = 0;
});

const call = async (user: string, tool: string, args: Record<string, unknown> = {}) => {
  const r = await clients.get(user)!.callTool(tool, args);
  expect(r.isError, textOf(r)).toBe(false);
  return JSON.parse(textOf(r).slice(textOf(r).indexOf('{'))) as { site: string; login: string; path: string };
};
/** Where each request went and whose token it carried. */
const traffic = () => provider.seen.map((s) => `${s.method} ${s.site}${s.path} ${provider.ownerOf(s.token)}`);

describe('two users linked to two sites', () => {
  it("each tool call reaches the caller's own Salesforce instance and Jira site", async () => {
    expect(await call('alice', 'sf__whoami')).toMatchObject({ site: provider.siteA, login: 'alice', path: '/whoami' });
    expect(await call('bob', 'sf__whoami')).toMatchObject({ site: provider.siteB, login: 'bob' });
    expect(await call('alice', 'jira__whoami')).toMatchObject({ site: 'cloud-a', login: 'alice' });
    expect(await call('bob', 'jira__whoami')).toMatchObject({ site: 'cloud-b', login: 'bob' });
    expect(traffic()).toEqual([
      `GET ${provider.siteA}/services/data/v61.0/whoami alice`,
      `GET ${provider.siteB}/services/data/v61.0/whoami bob`,
      `GET ${provider.jiraOrigin}/ex/jira/cloud-a/rest/api/3/whoami alice`,
      `GET ${provider.jiraOrigin}/ex/jira/cloud-b/rest/api/3/whoami bob`,
    ]);
  });

  it("a redirect to another user's instance is not followed: the token stays on the instance learned at the link", async () => {
    const r = await clients.get('alice')!.callTool('sf__hop', {});
    expect(r.isError).toBe(true);
    expect(traffic()).toEqual([`GET ${provider.siteA}/services/data/v61.0/hop alice`]);
  });

  it("each queued write is sent to the caller's own site", async () => {
    expect(await call('alice', 'sf__create', { name: 'a1' })).toMatchObject({ site: provider.siteA, login: 'alice', path: '/records' });
    expect(await call('bob', 'jira__create', { name: 'b1' })).toMatchObject({ site: 'cloud-b', login: 'bob', path: '/records' });
    expect(traffic()).toEqual([
      `POST ${provider.siteA}/services/data/v61.0/records alice`,
      `POST ${provider.jiraOrigin}/ex/jira/cloud-b/rest/api/3/records bob`,
    ]);
  });

  it("each user's poller reads their own instance's feed", async () => {
    await hub.hub.pollers.tick();
    expect(traffic().sort()).toEqual([`GET ${provider.siteA}/services/data/v61.0/events alice`, `GET ${provider.siteB}/services/data/v61.0/events bob`].sort());
    const events = await hub.hub.inbox.inbox.list({ integration: 'sf', limit: 10 });
    const alice = await hub.hub.integrations.connections.find('default', 'alice', 'sf');
    expect(events.find((e) => e.connection?.id === alice?.id)?.providerEventId).toBe(`evt-${provider.siteA}`);
  });

  it("a relink to another org moves the user's calls there, and the other user's stay", async () => {
    provider.instanceUrl.set('alice', provider.siteB);
    expectLinked(await linkAs(hub, new Browser(), provider, 'sf', 'alice'));
    provider.seen.length = 0;
    expect(await call('alice', 'sf__whoami')).toMatchObject({ site: provider.siteB, login: 'alice' });
    expect(await call('alice', 'sf__create', { name: 'a2' })).toMatchObject({ site: provider.siteB, login: 'alice' });
    expect(await call('bob', 'sf__whoami')).toMatchObject({ site: provider.siteB, login: 'bob' });
    expect(traffic().filter((t) => t.startsWith(`GET ${provider.siteA}`) || t.includes(provider.siteA))).toEqual([]);
    provider.instanceUrl.set('alice', provider.siteA);
    expectLinked(await linkAs(hub, new Browser(), provider, 'sf', 'alice'));
  });

  it('a connection linked before the base named its value is offered the link again, and nothing is sent', async () => {
    const repo = hub.hub.integrations.connections;
    const c = await repo.link({
      tenant: 'default',
      user: 'carol',
      integration: 'jira',
      tokens: { accessToken: 'at-carol-old', tokenType: 'Bearer' },
      scopes: [],
    });
    const r = await clients.get('carol')!.callTool('jira__whoami', {});
    expect(r).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
    expect(textOf(r)).toContain("it was linked before Jira's apiBaseUrl named {cloudId}; link it again so the hub learns it");
    expect(textOf(r)).toContain('/oauth/jira/start?link=');
    expect(await repo.get(c.id)).toMatchObject({ state: 'needs_reauth' });
    expect(provider.seen).toEqual([]);
    // Linked again, it learns the value and works.
    provider.cloudIds.set('carol', ['cloud-c']);
    expectLinked(await linkAs(hub, new Browser(), provider, 'jira', 'carol'));
    expect(await call('carol', 'jira__whoami')).toMatchObject({ site: 'cloud-c', login: 'carol' });
  });
});
