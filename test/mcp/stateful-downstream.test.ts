/**
 * A downstream whose state lives in its process (test/fixtures/stateful-server.ts, a 1.x-SDK
 * stdio server), shared and with `isolation: "user"`, driven by real clients of two users:
 * subscriptions to a URI from a resource template reach the server and its updates come back;
 * with a process per user, a user's subscriptions, updates and run-time tools are that user's
 * own; a call just after a crash waits for the restart; and a first start announces no list
 * change to a client that already has the lists.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StdioClientTransport as StdioTransportV2 } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, ROOT, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

const STATEFUL = join(ROOT, 'dist/test/fixtures/stateful-server.js');

interface Watcher {
  client: Client;
  transport: StreamableHTTPClientTransport;
  updates: string[];
  toolChanges: number;
}

async function connect(hub: RunningHub, token: string, era: 'legacy' | 'auto'): Promise<Watcher> {
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `stateful-${era}`, version: '1.0.0' }, { versionNegotiation: { mode: era } });
  const w: Watcher = { client, transport, updates: [], toolChanges: 0 };
  w.client.setNotificationHandler('notifications/resources/updated', (n) => void w.updates.push(n.params.uri));
  w.client.setNotificationHandler('notifications/tools/list_changed', () => void w.toolChanges++);
  await w.client.connect(transport);
  return w;
}

const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;

/** The URIs the user's own process (`own`, isolation user) was asked to watch. */
const watched = async (w: Watcher) => JSON.parse(textOf(await w.client.callTool({ name: 'own__subscribed', arguments: {} }))) as string[];

async function readText(w: Watcher, uri: string): Promise<string> {
  const first = (await w.client.readResource({ uri })).contents[0];
  return first && 'text' in first ? first.text : '';
}

describe('a downstream with state in its process', () => {
  let hub: RunningHub;
  let bobToken: string;
  const open: Client[] = [];

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: {
        shared: { command: process.execPath, args: [STATEFUL, 'shared'] },
        own: { command: process.execPath, args: [STATEFUL, 'own'], isolation: 'user' },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
  });

  async function pair(era: 'legacy' | 'auto'): Promise<[Watcher, Watcher]> {
    const ws = [await connect(hub, hub.token, era), await connect(hub, bobToken, era)] as [Watcher, Watcher];
    open.push(...ws.map((w) => w.client));
    return ws;
  }

  it('a subscription to a URI from a resource template reaches the server, and its updates come back', async () => {
    const [alice, bob] = await pair('legacy');
    await alice.client.subscribeResource({ uri: 'shared://a' });
    await bob.client.subscribeResource({ uri: 'shared://b' });
    await alice.client.callTool({ name: 'shared__bump', arguments: { name: 'a' } });
    await eventually(() => alice.updates.includes('shared://a'));
    await bob.client.callTool({ name: 'shared__bump', arguments: { name: 'b' } });
    await eventually(() => bob.updates.includes('shared://b'));
    expect(alice.updates).toEqual(['shared://a']);
    expect(bob.updates).toEqual(['shared://b']);
  });

  it('with a process per user, each user’s subscription follows that user’s own process, side by side', async () => {
    const [alice, bob] = await pair('legacy');
    await alice.client.subscribeResource({ uri: 'own://x' });
    await bob.client.subscribeResource({ uri: 'own://x' });
    await alice.client.callTool({ name: 'own__bump', arguments: { name: 'x' } });
    await alice.client.callTool({ name: 'own__bump', arguments: { name: 'x' } });
    await eventually(() => alice.updates.length === 2);
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'x' } });
    await eventually(() => bob.updates.length === 1);
    // Each read is of the reader's own process: alice bumped twice, bob once.
    expect(await readText(alice, 'own://x')).toBe('2');
    expect(await readText(bob, 'own://x')).toBe('1');
    expect(alice.updates).toEqual(['own://x', 'own://x']);
    expect(bob.updates).toEqual(['own://x']);
  });

  it('a 2026-07-28 subscriptions/listen naming a resource subscribes at the server while it is open, side by side', async () => {
    const [alice, bob] = await pair('auto');
    // A URI no server serves is left out of the acknowledgement, not honoured and never heard.
    const aliceListen = await alice.client.listen({ resourceSubscriptions: ['own://y', 'nothing://here'] });
    expect(aliceListen.honoredFilter.resourceSubscriptions).toEqual(['own://y']);
    const bobListen = await bob.client.listen({ resourceSubscriptions: ['own://z'] });
    // Each user's own process was asked to watch what that user's stream names, and nothing else.
    await eventually(async () => (await watched(alice)).includes('own://y'));
    await eventually(async () => (await watched(bob)).includes('own://z'));
    expect(await watched(alice)).not.toContain('own://z');
    await alice.client.callTool({ name: 'own__bump', arguments: { name: 'y' } });
    await eventually(() => alice.updates.includes('own://y'));
    await bob.client.callTool({ name: 'own__bump', arguments: { name: 'z' } });
    await eventually(() => bob.updates.includes('own://z'));
    expect(alice.updates).toEqual(['own://y']);
    expect(bob.updates).toEqual(['own://z']);
    // Closing the stream lets go of the subscription at the server.
    await aliceListen.close();
    await eventually(async () => !(await watched(alice)).includes('own://y'));
    await bobListen.close();
  });

  it('a closed session lets go of its subscriptions at the server', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    await alice.client.subscribeResource({ uri: 'own://gone' });
    expect(await watched(alice)).toContain('own://gone');
    // The client ends its session (DELETE), as one does on closing; an idle session ends the same way.
    await alice.transport.terminateSession();
    await alice.client.close();
    const again = await connect(hub, hub.token, 'legacy');
    open.push(again.client);
    await eventually(async () => !(await watched(again)).includes('own://gone'));
  });

  it('with a process per user, a tool a user’s process adds is that user’s to list and call', async () => {
    const [alice, bob] = await pair('legacy');
    await bob.client.callTool({ name: 'own__pid', arguments: {} });
    await alice.client.callTool({ name: 'own__add_tool', arguments: { name: 'mine' } });
    await eventually(() => alice.toolChanges > 0);
    const names = async (w: Watcher) => (await w.client.listTools()).tools.map((t) => t.name);
    expect(await names(alice)).toContain('own__mine');
    expect(textOf(await alice.client.callTool({ name: 'own__mine', arguments: {} }))).toBe('I am mine');
    expect(await names(bob)).not.toContain('own__mine');
    expect(bob.toolChanges).toBe(0);
  });

  it('completion for an unknown prompt or template is refused with -32602, as the server does directly; a known template completes', async () => {
    const [alice] = await pair('legacy');
    const argument = { name: 'name', value: 'a' };
    await expect(alice.client.complete({ ref: { type: 'ref/prompt', name: 'no_such_prompt' }, argument })).rejects.toMatchObject({ code: -32602 });
    await expect(alice.client.complete({ ref: { type: 'ref/resource', uri: 'nope://{x}' }, argument })).rejects.toMatchObject({ code: -32602 });
    expect(await alice.client.complete({ ref: { type: 'ref/resource', uri: 'shared://{name}' }, argument })).toMatchObject({ completion: { values: [] } });
  });

  it('a call just after the server crashed waits for its restart instead of failing', async () => {
    const [alice] = await pair('auto');
    const before = textOf(await alice.client.callTool({ name: 'shared__pid', arguments: {} }));
    const crashed = await alice.client.callTool({ name: 'shared__crash', arguments: {} });
    expect(crashed.isError).toBe(true);
    const after = await alice.client.callTool({ name: 'shared__pid', arguments: {} });
    expect(after.isError).toBeFalsy();
    expect(textOf(after)).not.toBe(before);
  });
});

describe('a first start without cached lists', () => {
  const dir = tmpDir();
  afterAll(() => dir.remove());

  it('announces no list change to a stdio client whose first list already held the tools; a real change is announced', async () => {
    const config = join(dir.path, 'switchboard.json');
    writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data'), mcpServers: { s: { command: process.execPath, args: [STATEFUL] } } }));
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'stdio', '--config', config], cwd: '/', stderr: 'pipe' });
    const client = new ClientV1({ name: 'desktop-like', version: '1.0.0' });
    const changes: string[] = [];
    let listed = false;
    client.fallbackNotificationHandler = async (n) => void changes.push(`${n.method}${listed ? ' after' : ' before'}`);
    await client.connect(transport);
    try {
      const first = (await client.listTools()).tools.map((t) => t.name);
      expect(first).toContain('s__add_tool');
      listed = true;
      await client.callTool({ name: 's__add_tool', arguments: { name: 'later' } });
      await eventually(() => changes.some((c) => c.startsWith('notifications/tools/list_changed')));
      expect(changes.filter((c) => c.startsWith('notifications/tools/list_changed'))).toEqual(['notifications/tools/list_changed after']);
    } finally {
      await client.close();
    }
  });

  it('a 2026-07-28 stdio client’s subscriptions/listen subscribes at the server, hears its updates, and lets go when it ends', async () => {
    const config = join(dir.path, 'listen.json');
    writeFileSync(config, JSON.stringify({ dataDir: join(dir.path, 'data-listen'), mcpServers: { s: { command: process.execPath, args: [STATEFUL] } } }));
    const transport = new StdioTransportV2({ command: process.execPath, args: [CLI, 'stdio', '--no-http', '--config', config], cwd: '/', stderr: 'pipe' });
    const client = new Client({ name: 'stdio-2026', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    const updates: string[] = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
    await client.connect(transport);
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('s__subscribed');
      const watched = async () => JSON.parse(textOf(await client.callTool({ name: 's__subscribed', arguments: {} }))) as string[];
      const listen = await client.listen({ resourceSubscriptions: ['counter://q', 'nothing://here'] });
      expect(listen.honoredFilter.resourceSubscriptions).toEqual(['counter://q']);
      await eventually(async () => (await watched()).includes('counter://q'));
      await client.callTool({ name: 's__bump', arguments: { name: 'q' } });
      await eventually(() => updates.includes('counter://q'));
      await listen.close();
      await eventually(async () => !(await watched()).includes('counter://q'));
    } finally {
      await client.close();
    }
  });
});
