/**
 * `recent_events` of an integration whose accounts are linked through OAuth: a user who never
 * linked one has no events and is offered the link, as every other tool of the integration
 * answers, where an empty list read as "nothing happened". A linked user with no events yet gets
 * the empty list, and a user whose connection must be linked again still reads past events.
 * A real hub, real MCP clients of both eras, three users side by side.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

describe('recent_events for a user with no linked account', () => {
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    hub = await startHub({
      integrations: {
        tracker: {
          type: 'custom',
          title: 'Tracker',
          apiBaseUrl: 'http://127.0.0.1:9/api',
          oauth: { authorizeUrl: 'http://127.0.0.1:9/authorize', tokenUrl: 'http://127.0.0.1:9/token', clientId: 'c1', clientSecret: 's1' },
          webhooks: { scheme: 'standard-webhooks', secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
          tools: { ping: { description: 'ping', method: 'GET', path: '/ping', readOnly: true } },
        },
      },
    });
    const connections = hub.hub.integrations.accounts.connections;
    for (const user of ['alice', 'carol']) {
      await connections.link({ tenant: 'default', user, integration: 'tracker', tokens: { accessToken: `at-${user}`, tokenType: 'Bearer' }, scopes: [] });
    }
    const carol = (await connections.find('default', 'carol', 'tracker'))!;
    const accepted = await hub.hub.inbox.inbox.accept({
      integration: 'tracker',
      deliveryId: 'msg_1',
      connection: { id: carol.id, tenant: 'default', user: 'carol' },
      type: 'ticket.updated',
      payload: Buffer.from(JSON.stringify({ id: 'evt_1', owner: 'carol' })),
    });
    expect(accepted.eventId).toBeTruthy();
    await connections.markNeedsReauth(carol.id, 'refresh refused');
    tokens.set('alice', hub.token);
    for (const user of ['bob', 'carol']) tokens.set(user, (await hub.hub.tokens.create({ user })).token);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await hub?.stop();
  });

  const client = async (kind: (typeof CLIENT_KINDS)[number], user: string) => {
    const c = await connectClient(kind, { transport: 'http', url: hub.url, token: tokens.get(user)! });
    clients.push(c);
    return c;
  };

  for (const kind of CLIENT_KINDS) {
    it(`${kind}: never linked is offered the link; linked with none yet reads an empty list; to re-link still reads its past events`, async () => {
      const bob = await (await client(kind, 'bob')).callTool('tracker__recent_events', {});
      expect(bob).toMatchObject({ isError: true, errorCode: 'connection_required' });
      expect(textOf(bob)).toMatch(/^Link your Tracker account to use this tool\. Open this link, approve access, then call the tool again: http/);
      // Other arguments change nothing: there is no account whose events there could be.
      const again = await (await client(kind, 'bob')).callTool('tracker__recent_events', { limit: 5 });
      expect(again).toMatchObject({ isError: true, errorCode: 'connection_required' });

      const alice = await (await client(kind, 'alice')).callTool('tracker__recent_events', {});
      expect(alice.isError).toBe(false);
      expect(alice.structuredContent).toMatchObject({ events: [] });

      const carol = await (await client(kind, 'carol')).callTool('tracker__recent_events', {});
      expect(carol.isError).toBe(false);
      expect((carol.structuredContent as { events: Array<{ payload: { owner: string } }> }).events.map((e) => e.payload.owner)).toEqual(['carol']);
    });
  }
});
