/**
 * A 2025 client opens its standalone GET stream a moment after `initialize` (fire-and-forget after
 * notifications/initialized): a list change or a subscribed resource's update the hub tells its
 * session in that window, or while the stream is down, reaches it once the stream opens, once per
 * kind (per URI for updates), and only the user whose list changed hears it. Real SDK clients whose
 * GET the test holds back, and a stdio server with state per process (shared, and a process per user).
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ROOT, startHub, type RunningHub } from '../helpers/hub.js';

const STATEFUL = join(ROOT, 'dist/test/fixtures/stateful-server.js');

interface Watcher {
  client: Client;
  /** What came on the session's standalone stream, in order: a list change by kind, an update by URI. */
  heard: string[];
  /** The Last-Event-ID of each GET the client sent (null: none). */
  gets: (string | null)[];
  /** Resolves once the hub answered the session's first GET. */
  streamOpen: Promise<void>;
  /** Lets the held GET go to the hub. */
  release: () => void;
  /** Ends the open GET stream from the client's side, as a dropped connection would. */
  cut: () => void;
  /** Runs the client's reconnection of its GET stream, which the test holds until then. */
  reconnect: () => Promise<void>;
}

async function connect(hub: RunningHub, token: string, holdGet: boolean): Promise<Watcher> {
  let release = () => {};
  const gate = holdGet ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  let opened = () => {};
  const streamOpen = new Promise<void>((r) => (opened = r));
  let cut = () => {};
  let scheduled: (() => void) | undefined;
  let reconnected = () => {};
  const gets: (string | null)[] = [];
  const held: typeof fetch = async (input, init) => {
    if (init?.method !== 'GET') return fetch(input, init);
    gets.push(new Headers(init.headers).get('last-event-id'));
    await gate;
    const own = new AbortController();
    cut = () => own.abort();
    const res = await fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, own.signal]) : own.signal });
    opened();
    reconnected();
    return res;
  };
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: held,
    reconnectionScheduler: (reconnect) => {
      scheduled = reconnect;
    },
  });
  const client = new Client({ name: 'early-notice', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  const heard: string[] = [];
  for (const kind of ['tools', 'prompts', 'resources'] as const)
    client.setNotificationHandler(`notifications/${kind}/list_changed`, () => void heard.push(kind));
  client.setNotificationHandler('notifications/resources/updated', (n) => void heard.push(n.params.uri));
  await client.connect(transport);
  return {
    client,
    heard,
    gets,
    streamOpen,
    release,
    cut: () => cut(),
    reconnect: async () => {
      await eventually(() => scheduled !== undefined);
      const run = scheduled!;
      scheduled = undefined;
      await new Promise<void>((r) => {
        reconnected = r;
        run();
      });
    },
  };
}

const names = async (w: Watcher) => (await w.client.listTools()).tools.map((t) => t.name);

describe('a list change or update told before a 2025 client’s GET stream is open', () => {
  let hub: RunningHub;
  const tokens: Record<'bob' | 'carol', string> = { bob: '', carol: '' };
  const open: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: {
        shared: { command: process.execPath, args: [STATEFUL, 'shared'] },
        own: { command: process.execPath, args: [STATEFUL, 'own'], isolation: 'user' },
      },
    });
    tokens.bob = (await hub.hub.tokens.create({ user: 'bob' })).token;
    tokens.carol = (await hub.hub.tokens.create({ user: 'carol' })).token;
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  async function user(token: string, holdGet: boolean): Promise<Watcher> {
    const w = await connect(hub, token, holdGet);
    open.push(w.client);
    return w;
  }

  it('a change to everyone’s list reaches the client whose GET was held back once it opens, once, as it reaches the one whose stream was open', async () => {
    const alice = await user(hub.token, false);
    await alice.streamOpen;
    const bob = await user(tokens.bob, true);
    await bob.client.subscribeResource({ uri: 'shared://bob' });
    await alice.client.callTool({ name: 'shared__add_tool', arguments: { name: 'late' } });
    await eventually(() => alice.heard.length > 0);
    // The hub has told bob's session: his list holds the tool. His GET has not gone out yet.
    expect(await names(bob)).toContain('shared__late');
    expect(bob.gets).toEqual([null]);
    bob.release();
    await bob.streamOpen;
    // An update he subscribed to, told after the stream opened, comes after whatever it was owed.
    await bob.client.callTool({ name: 'shared__bump', arguments: { name: 'bob' } });
    await eventually(() => bob.heard.includes('shared://bob'));
    expect(bob.heard).toEqual(['tools', 'shared://bob']);
    expect(alice.heard).toEqual(['tools']);
  });

  it('side by side: each user hears their own changes and updates once (one per kind and URI); a user whose list did not change hears nothing', async () => {
    const alice = await user(hub.token, false);
    await alice.streamOpen;
    const bob = await user(tokens.bob, true);
    const carol = await user(tokens.carol, true);
    for (const [w, uri] of [
      [alice, 'own://alice'],
      [bob, 'own://bob'],
      [bob, 'own://bob-after'],
      [carol, 'own://carol'],
    ] as const)
      await w.client.subscribeResource({ uri });
    await alice.client.callTool({ name: 'own__add_tool', arguments: { name: 'a1' } });
    await eventually(() => alice.heard.length > 0);
    // bob's process changes twice and his counter twice while his GET is held back.
    await bob.client.callTool({ name: 'own__add_tool', arguments: { name: 'b1' } });
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'bob' } });
    await bob.client.callTool({ name: 'own__add_tool', arguments: { name: 'b2' } });
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'bob' } });
    await eventually(async () => (await names(bob)).includes('own__b2'));
    expect(await names(carol)).not.toContain('own__b1');
    bob.release();
    carol.release();
    await Promise.all([bob.streamOpen, carol.streamOpen]);
    // What each hears next is told after the streams opened: anything owed came before it.
    await alice.client.callTool({ name: 'own__bump', arguments: { name: 'alice' } });
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'bob-after' } });
    await carol.client.callTool({ name: 'own__bump', arguments: { name: 'carol' } });
    await eventually(() => alice.heard.includes('own://alice') && bob.heard.includes('own://bob-after') && carol.heard.includes('own://carol'));
    expect(alice.heard).toEqual(['tools', 'own://alice']);
    // What bob was owed comes first, once per kind and URI. Between the two kinds either order is
    // right: each is kept in the order the hub told it, and the hub tells a list change once it
    // has listed the server again, which may finish after the update that followed the change.
    expect(bob.heard.slice(0, 2).sort()).toEqual(['own://bob', 'tools']);
    expect(bob.heard.slice(2)).toEqual(['own://bob-after']);
    expect(carol.heard).toEqual(['own://carol']);
  });

  it('a GET the hub refuses opens nothing, so the next one is told; an update of a URI no longer subscribed to is not', async () => {
    const bob = await user(tokens.bob, true);
    for (const uri of ['own://kept', 'own://dropped', 'own://later']) await bob.client.subscribeResource({ uri });
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'kept' } });
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'dropped' } });
    await bob.client.unsubscribeResource({ uri: 'own://dropped' });
    const refused = await fetch(hub.url, {
      headers: { authorization: `Bearer ${tokens.bob}`, accept: 'application/json', 'mcp-session-id': bob.client.transport!.sessionId! },
    });
    expect(refused.status).toBe(406);
    bob.release();
    await bob.streamOpen;
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'later' } });
    await eventually(() => bob.heard.includes('own://later'));
    expect(bob.heard).toEqual(['own://kept', 'own://later']);
  });

  it('a change told while the stream was down reaches a client that resumes with Last-Event-ID once, from the replay', async () => {
    const bob = await user(tokens.bob, false);
    await bob.streamOpen;
    await bob.client.subscribeResource({ uri: 'own://again' });
    await bob.client.callTool({ name: 'own__add_tool', arguments: { name: 'r1' } });
    await eventually(() => bob.heard.length === 1);
    bob.cut();
    await bob.client.callTool({ name: 'own__add_tool', arguments: { name: 'r2' } });
    await eventually(async () => (await names(bob)).includes('own__r2'));
    await bob.reconnect();
    expect(bob.gets).toHaveLength(2);
    expect(bob.gets[1]).toEqual(expect.any(String));
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'again' } });
    await eventually(() => bob.heard.includes('own://again'));
    expect(bob.heard).toEqual(['tools', 'tools', 'own://again']);
  });
});
