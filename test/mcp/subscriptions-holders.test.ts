/**
 * Resource subscriptions on a shared downstream (test/fixtures/stateful-server.ts over stdio,
 * `isolation: "shared"`: one process, one subscription at it for everyone) are held per holder,
 * driven by real clients of two users (the 1.x SDK for 2025 sessions, the v2 client for a
 * 2026-07-28 listen stream). An unsubscribe from a session that holds nothing is answered as done
 * and ends nobody else's subscription; a session that subscribes twice holds once, and lets go
 * with one unsubscribe or when it closes; the server hears the unsubscribe only from the last
 * holder. What the server was asked is read from the fixture's own `subscribed` tool.
 */
import { join } from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startHub, type RunningHub } from '../helpers/hub.js';

const STATEFUL = join(ROOT, 'dist/test/fixtures/stateful-server.js');

interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** The URIs of each `notifications/resources/updated` heard, in order. */
  updates: string[];
}

const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;

describe('resource subscriptions on a shared downstream are held per holder', () => {
  let hub: RunningHub;
  let bobToken: string;
  const open: { close: () => Promise<void> }[] = [];

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { shared: { command: process.execPath, args: [STATEFUL, 'shared'], isolation: 'shared' } } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
  });

  /** A 2025-11-25 session of the 1.x SDK, hearing resource updates on its standalone stream. */
  async function session(token: string): Promise<Session> {
    const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    const client = new Client({ name: 'holders-v1', version: '1.0.0' });
    const s: Session = { client, transport, updates: [] };
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void s.updates.push(n.params.uri));
    await client.connect(transport);
    open.push(client);
    return s;
  }

  /** What the shared process was asked to watch (its own record of resources/subscribe and unsubscribe). */
  async function downstreamWatches(via: Session): Promise<string[]> {
    return JSON.parse(textOf(await via.client.callTool({ name: 'shared__subscribed', arguments: {} }))) as string[];
  }

  const bump = (via: Session, name: string) => via.client.callTool({ name: 'shared__bump', arguments: { name } });

  it('an unsubscribe from a user who never subscribed is answered {} and leaves the subscriber’s updates coming', async () => {
    const alice = await session(hub.token);
    const bob = await session(bobToken);
    await alice.client.subscribeResource({ uri: 'shared://cross' });
    await bump(alice, 'cross');
    await eventually(() => alice.updates.length === 1);
    // Bob holds nothing of this URI: the spec's empty result, and nothing else happens.
    expect(await bob.client.unsubscribeResource({ uri: 'shared://cross' })).toEqual({});
    expect(await downstreamWatches(bob)).toContain('shared://cross');
    await bump(bob, 'cross');
    await eventually(() => alice.updates.length === 2);
    expect(alice.updates).toEqual(['shared://cross', 'shared://cross']);
    expect(bob.updates).toEqual([]);
  });

  it('another session of the same user (same token) that holds nothing does not end the subscription either', async () => {
    const alice = await session(hub.token);
    const aliceElsewhere = await session(hub.token);
    await alice.client.subscribeResource({ uri: 'shared://same-user' });
    expect(await aliceElsewhere.client.unsubscribeResource({ uri: 'shared://same-user' })).toEqual({});
    expect(await downstreamWatches(alice)).toContain('shared://same-user');
    await bump(aliceElsewhere, 'same-user');
    await eventually(() => alice.updates.length === 1);
  });

  it('a 2026-07-28 listen stream keeps its subscription when another user’s session unsubscribes the URI', async () => {
    const listener = new ClientV2({ name: 'holders-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    const heard: string[] = [];
    listener.setNotificationHandler('notifications/resources/updated', (n) => void heard.push(n.params.uri));
    await listener.connect(new TransportV2(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    open.push(listener);
    const listen = await listener.listen({ resourceSubscriptions: ['shared://listened'] });
    expect(listen.honoredFilter.resourceSubscriptions).toEqual(['shared://listened']);
    const bob = await session(bobToken);
    await eventually(async () => (await downstreamWatches(bob)).includes('shared://listened'));
    expect(await bob.client.unsubscribeResource({ uri: 'shared://listened' })).toEqual({});
    expect(await downstreamWatches(bob)).toContain('shared://listened');
    await bump(bob, 'listened');
    await eventually(() => heard.includes('shared://listened'));
    // The stream's close is what lets go of it.
    await listen.close();
    await eventually(async () => !(await downstreamWatches(bob)).includes('shared://listened'));
  });

  it('a session that subscribes twice holds once: one unsubscribe lets go of the server’s subscription', async () => {
    const alice = await session(hub.token);
    await alice.client.subscribeResource({ uri: 'shared://twice' });
    await alice.client.subscribeResource({ uri: 'shared://twice' });
    expect(await downstreamWatches(alice)).toContain('shared://twice');
    await alice.client.unsubscribeResource({ uri: 'shared://twice' });
    expect(await downstreamWatches(alice)).not.toContain('shared://twice');
    await bump(alice, 'twice');
    // A second unsubscribe holds nothing and is still answered as done.
    expect(await alice.client.unsubscribeResource({ uri: 'shared://twice' })).toEqual({});
  });

  it('a session that subscribed twice lets go of the server’s subscription when it closes', async () => {
    const alice = await session(hub.token);
    const bob = await session(bobToken);
    await alice.client.subscribeResource({ uri: 'shared://closing' });
    await alice.client.subscribeResource({ uri: 'shared://closing' });
    expect(await downstreamWatches(bob)).toContain('shared://closing');
    await alice.transport.terminateSession();
    await alice.client.close();
    await eventually(async () => !(await downstreamWatches(bob)).includes('shared://closing'));
  });

  it('with two users holding a URI, the server hears the unsubscribe only when the last one lets go', async () => {
    const alice = await session(hub.token);
    const bob = await session(bobToken);
    await alice.client.subscribeResource({ uri: 'shared://both' });
    await bob.client.subscribeResource({ uri: 'shared://both' });
    await bob.client.unsubscribeResource({ uri: 'shared://both' });
    expect(await downstreamWatches(alice)).toContain('shared://both');
    await bump(alice, 'both');
    await eventually(() => alice.updates.length === 1);
    await alice.client.unsubscribeResource({ uri: 'shared://both' });
    expect(await downstreamWatches(alice)).not.toContain('shared://both');
  });
});
