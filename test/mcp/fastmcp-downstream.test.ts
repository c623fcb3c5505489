/**
 * A downstream built with fastmcp (test/fixtures/fastmcp-server.ts), driven through the hub by
 * real clients of two users: the tools it adds and removes at run time reach both users although
 * it never declares `listChanged`; its streamed content reaches the caller only; and a restart of
 * the server behind an HTTP URL (which forgets every session) is met with a new session, the
 * calls of both users going on as if nothing happened and the tools of the new server listed;
 * without sessions (no stream to announce anything on), its run-time tools are still found; and
 * what it logs to a session after the call (an HTTP session per user, a process per user, a
 * desktop client over `switchboard stdio`) reaches that user alone, at the level it set.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioClientTransportV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, eventually, ROOT, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

const FASTMCP = join(ROOT, 'dist/test/fixtures/fastmcp-server.js');

interface Watcher {
  client: Client;
  toolChanges: number;
  /** Notifications the hub has no handler of its own for, by method. */
  other: { method: string; params?: unknown }[];
}

async function connect(hub: RunningHub, token: string, era: 'legacy' | 'auto'): Promise<Watcher> {
  const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `fastmcp-${era}`, version: '1.0.0' }, { versionNegotiation: { mode: era } });
  const w: Watcher = { client, toolChanges: 0, other: [] };
  client.setNotificationHandler('notifications/tools/list_changed', () => void w.toolChanges++);
  client.fallbackNotificationHandler = async (n) => void w.other.push({ method: n.method, params: n.params });
  await client.connect(transport);
  return w;
}

/** A fastmcp server on HTTP, once it says it is running. */
async function startFastmcp(port: number, ...args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [FASTMCP, '--http', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fastmcp server exited (${code})`)));
    const ready = (chunk: Buffer) => void (/HTTP Stream at http/.test(chunk.toString()) && resolve());
    child.stdout!.on('data', ready);
    child.stderr!.on('data', ready);
  });
  return child;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The `fm` server's state as `doctor` and /readyz show it. */
const stateOfFm = (hub: RunningHub) =>
  hub.hub.catalog
    .sources()
    .find((s) => s.name === 'fm')
    ?.status().state;

const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;
const names = async (w: Watcher) => (await w.client.listTools()).tools.map((t) => t.name);

/**
 * For the describe it is called in: a hub on these `mcpServers` (or those `servers` starts), used by alice
 * (the hub's admin token) and bob over 2025 sessions; `pair` connects both, and their clients are
 * closed with the hub after the describe.
 */
function twoUsers(servers: Record<string, unknown> | (() => Promise<Record<string, unknown>>)): { pair: () => Promise<[Watcher, Watcher]> } {
  let hub: RunningHub | undefined;
  let bobToken = '';
  const open: Client[] = [];
  beforeAll(async () => {
    hub = await startHub({ mcpServers: typeof servers === 'function' ? await servers() : servers });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
  });
  return {
    pair: async () => {
      const ws = [await connect(hub!, hub!.token, 'legacy'), await connect(hub!, bobToken, 'legacy')] as [Watcher, Watcher];
      open.push(...ws.map((w) => w.client));
      return ws;
    },
  };
}

/**
 * alice (level `warning`) and bob (no level) each call `log_later`, which logs at info and at
 * warning to the calling session once the call has ended: each hears their own, as filtered by
 * their own level, and nothing of the other's.
 */
async function logsReachTheirUser(pair: () => Promise<[Watcher, Watcher]>): Promise<void> {
  const [alice, bob] = await pair();
  const heard = { alice: [] as unknown[], bob: [] as unknown[] };
  alice.client.setNotificationHandler('notifications/message', (n) => void heard.alice.push(n.params.data));
  bob.client.setNotificationHandler('notifications/message', (n) => void heard.bob.push(n.params.data));
  await alice.client.setLoggingLevel('warning');
  expect(textOf(await alice.client.callTool({ name: 'fm__log_later', arguments: {} }))).toBe('logged later');
  await eventually(() => heard.alice.length === 1);
  await bob.client.callTool({ name: 'fm__log_later', arguments: {} });
  await eventually(() => heard.bob.length === 2);
  const said = (message: string) => ({ message });
  expect(heard).toEqual({ alice: [said('later warning')], bob: [said('later info'), said('later warning')] });
}

describe('a fastmcp server over stdio, shared by two users', () => {
  const { pair } = twoUsers({ fm: { command: process.execPath, args: [FASTMCP] } });

  it('a tool it adds or removes at run time is announced to both users, listed and callable, though it declares no listChanged', async () => {
    const [alice, bob] = await pair();
    expect(await names(bob)).not.toContain('fm__late');
    expect(textOf(await alice.client.callTool({ name: 'fm__add_tool', arguments: { name: 'late' } }))).toBe('added late');
    await eventually(() => alice.toolChanges > 0 && bob.toolChanges > 0);
    expect(await names(bob)).toContain('fm__late');
    expect(textOf(await bob.client.callTool({ name: 'fm__late', arguments: {} }))).toBe('I am late');
    const changes = bob.toolChanges;
    await alice.client.callTool({ name: 'fm__remove_tool', arguments: { name: 'late' } });
    await eventually(() => bob.toolChanges > changes);
    expect(await names(alice)).not.toContain('fm__late');
    expect(await names(bob)).not.toContain('fm__late');
  });

  it('its streamed content reaches the calling client only, before the answer', async () => {
    const [alice, bob] = await pair();
    const result = await alice.client.callTool({ name: 'fm__stream', arguments: {} });
    expect(textOf(result)).toBe('streamed');
    const streamed = alice.other.filter((n) => n.method === 'notifications/tool/streamContent');
    expect(streamed.map((n) => (n.params as { content: { text: string }[] }).content[0]!.text)).toEqual(['alpha', 'beta', 'gamma']);
    expect(bob.other).toEqual([]);
  });
});

describe.each([
  { keepaliveMs: 600_000, when: 'found by the first call after it' },
  { keepaliveMs: 200, when: 'found by the keepalive' },
])('a fastmcp server behind an HTTP URL that restarts ($when)', ({ keepaliveMs }) => {
  let hub: RunningHub;
  let bobToken: string;
  let port: number;
  let server: ChildProcess | undefined;
  const open: Client[] = [];

  async function startServer(...args: string[]): Promise<void> {
    server = await startFastmcp(port, ...args);
  }

  async function stopServer(): Promise<void> {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    port = await freePort();
    await startServer();
    hub = await startHub({ mcpServers: { fm: { url: `http://127.0.0.1:${port}/mcp` } } }, { keepaliveMs, restartBaseMs: 50 });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await hub?.stop();
    await stopServer();
  });

  it('both users’ calls go on in a new session, and the restarted server’s tools are listed and announced', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    const bob = await connect(hub, bobToken, 'auto');
    open.push(alice.client, bob.client);
    const before = textOf(await alice.client.callTool({ name: 'fm__pid', arguments: {} }));
    expect(textOf(await bob.client.callTool({ name: 'fm__pid', arguments: {} }))).toBe(before);

    await stopServer();
    await startServer('--extra', 'fresh');
    // The sessions the hub held for each user are gone with the old process: each call meets a
    // 404, opens a new session and is sent again on it.
    const afterAlice = await alice.client.callTool({ name: 'fm__pid', arguments: {} });
    expect(afterAlice.isError).toBeFalsy();
    expect(textOf(afterAlice)).not.toBe(before);
    const afterBob = await bob.client.callTool({ name: 'fm__pid', arguments: {} });
    expect(textOf(afterBob)).toBe(textOf(afterAlice));
    // The hub's own session (lists, list changes) is found gone too — checked at once when a
    // user's session met the restart, else by the keepalive — opened again, and the lists read
    // again: the new tool is listed and announced.
    await eventually(async () => (await names(alice)).includes('fm__fresh'));
    await eventually(() => alice.toolChanges > 0);
    expect(textOf(await bob.client.callTool({ name: 'fm__fresh', arguments: {} }))).toBe('fresh');
  });

  it('with nobody calling, a restarted server’s new tools are listed and announced all the same', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    open.push(alice.client);
    expect(await names(alice)).not.toContain('fm__again');
    await stopServer();
    await startServer('--extra', 'again');
    // The hub's stream from the server drops with it; reopened, it meets a 404, and a request tells
    // the hub whether that is an ended session (it is) or a server that serves no GET.
    await eventually(async () => (await names(alice)).includes('fm__again'));
    await eventually(() => alice.toolChanges > 0);
  });

  it('with nobody calling, a server slower to come back than the stream’s reopen attempts is found all the same', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    open.push(alice.client);
    expect(await names(alice)).not.toContain('fm__late');
    await stopServer();
    // The SDK transport reopens the hub's standalone stream twice, 1 s then 1.5 s after it drops,
    // on timers of its own no test can step: a server away longer leaves it closed for good. The
    // hub then checks on the server itself, finds it gone, and reconnects once it is back.
    await new Promise((r) => setTimeout(r, 3_500));
    await startServer('--extra', 'late');
    await eventually(async () => (await names(alice)).includes('fm__late'));
    await eventually(() => alice.toolChanges > 0);
  });

  // Only a keepalive finds a server that is away while nobody calls it.
  if (keepaliveMs < 10_000) {
    it('a server that stays away is reported restarting, and taken back when it returns', { timeout: 60_000 }, async () => {
      await stopServer();
      // Waits for the hub's own checks and restart backoff, which a loaded machine (two test files on two cores) slows.
      await eventually(() => stateOfFm(hub) === 'restarting', 20_000);
      await startServer();
      await eventually(() => stateOfFm(hub) === 'ready', 20_000);
      const alice = await connect(hub, hub.token, 'legacy');
      open.push(alice.client);
      expect((await alice.client.callTool({ name: 'fm__pid', arguments: {} })).isError).toBeFalsy();
      await eventually(async () => !(await names(alice)).includes('fm__fresh'));
    });
  }
});

describe('a fastmcp server over HTTP without sessions', () => {
  let hub: RunningHub;
  let child: ChildProcess;
  const open: Client[] = [];

  beforeAll(async () => {
    const port = await freePort();
    child = await startFastmcp(port, '--stateless');
    hub = await startHub({ mcpServers: { fm: { url: `http://127.0.0.1:${port}/mcp` } } }, { keepaliveMs: 200 });
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
    child?.kill('SIGKILL');
  });

  it('a tool it adds at run time is listed and announced, though it has no stream to announce it on', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    open.push(alice.client);
    expect(await names(alice)).not.toContain('fm__later');
    await alice.client.callTool({ name: 'fm__add_tool', arguments: { name: 'later' } });
    await eventually(() => alice.toolChanges > 0);
    expect(await names(alice)).toContain('fm__later');
    expect(textOf(await alice.client.callTool({ name: 'fm__later', arguments: {} }))).toBe('I am later');
  });
});

describe('a server whose app routes only POST', () => {
  let hub: RunningHub;
  let child: ChildProcess;
  let front: Server;
  const seen = { gets: 0, posts: 0 };

  beforeAll(async () => {
    const port = await freePort();
    child = await startFastmcp(port);
    // In front of it, what an express app with only app.post('/mcp') does: 404 to the GET that
    // opens the standalone stream (where the spec has 405), the rest passed on.
    front = createHttpServer((req, res) => {
      seen[req.method === 'GET' ? 'gets' : 'posts']++;
      if (req.method === 'GET') return void res.writeHead(404, { 'content-type': 'text/html' }).end('Cannot GET /mcp');
      const ahead = httpRequest({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(ahead);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const { port: frontPort } = front.address() as { port: number };
    hub = await startHub({ mcpServers: { fm: { url: `http://127.0.0.1:${frontPort}/mcp` } } }, { keepaliveMs: 100 });
  });
  afterAll(async () => {
    await hub?.stop();
    front?.close();
    child?.kill('SIGKILL');
  });

  it('its 404 to GET is not taken for a lost session: the hub stays connected and its calls work', async () => {
    const alice = await connect(hub, hub.token, 'legacy');
    expect(textOf(await alice.client.callTool({ name: 'fm__add_tool', arguments: { name: 'x' } }))).toBe('added x');
    // Its GETs refused, and several keepalive rounds (each reads the tools it does not announce).
    const posts = seen.posts;
    await eventually(() => seen.gets > 0 && seen.posts >= posts + 5);
    const status = hub.hub.catalog
      .sources()
      .find((s) => s.name === 'fm')
      ?.status();
    expect(status).toMatchObject({ state: 'ready', restarts: 0 });
    expect(textOf(await alice.client.callTool({ name: 'fm__x', arguments: {} }))).toBe('I am x');
    await alice.client.close();
  });
});

describe('a fastmcp server over HTTP that tells each session of its own updates', () => {
  let child: ChildProcess | undefined;
  const { pair } = twoUsers(async () => {
    const port = await freePort();
    child = await startFastmcp(port);
    return { fm: { url: `http://127.0.0.1:${port}/mcp` } };
  });
  afterAll(() => void child?.kill('SIGKILL'));

  it('a user’s subscription is made on that user’s session, so the updates its calls cause reach that user, and only that user', async () => {
    const [alice, bob] = await pair();
    const updates = { alice: [] as string[], bob: [] as string[] };
    alice.client.setNotificationHandler('notifications/resources/updated', (n) => void updates.alice.push(n.params.uri));
    bob.client.setNotificationHandler('notifications/resources/updated', (n) => void updates.bob.push(n.params.uri));
    await alice.client.subscribeResource({ uri: 'note://board' });
    await bob.client.subscribeResource({ uri: 'note://board' });
    await alice.client.callTool({ name: 'fm__touch', arguments: {} });
    await eventually(() => updates.alice.length === 1);
    await bob.client.callTool({ name: 'fm__touch', arguments: {} });
    await eventually(() => updates.bob.length === 1);
    expect(updates).toEqual({ alice: ['note://board'], bob: ['note://board'] });
    // Unsubscribed, alice hears no more of her own touches; bob still does of his.
    await alice.client.unsubscribeResource({ uri: 'note://board' });
    await alice.client.callTool({ name: 'fm__touch', arguments: {} });
    await bob.client.callTool({ name: 'fm__touch', arguments: {} });
    await eventually(() => updates.bob.length === 2);
    expect(updates.alice).toEqual(['note://board']);
  });

  it('what it logs to a user’s session after the call reaches that user, at the level the user set, and nobody else', async () => {
    await logsReachTheirUser(pair);
  });
});

describe('a fastmcp server over stdio, a process per user', () => {
  const { pair } = twoUsers({ fm: { command: process.execPath, args: [FASTMCP], isolation: 'user' } });

  it('what a user’s own process logs after the call reaches that user, at the level the user set, and nobody else', async () => {
    await logsReachTheirUser(pair);
  });
});

describe('a desktop client over `switchboard stdio`, a fastmcp server behind HTTP', () => {
  let child: ChildProcess;
  let dir: ReturnType<typeof tmpDir>;
  let desktop: ClientV1 | undefined;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    child = await startFastmcp(port);
    dir = tmpDir();
  });
  afterAll(async () => {
    await desktop?.close();
    child?.kill('SIGKILL');
    dir?.remove();
  });

  it('what the server logs to the session after the call reaches the desktop client, at the level it set', async () => {
    const config = join(dir.path, 'switchboard.config.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { fm: { url: `http://127.0.0.1:${port}/mcp` } } }));
    desktop = new ClientV1({ name: 'desktop', version: '1.0.0' }, { capabilities: {} });
    const heard: unknown[] = [];
    desktop.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard.push(n.params.data));
    await desktop.connect(
      new StdioClientTransportV1({
        command: process.execPath,
        args: [CLI, 'stdio', '--no-http', '--config', config, '--data', join(dir.path, 'data')],
        cwd: '/',
        stderr: 'ignore',
      }),
    );
    await desktop.setLoggingLevel('warning');
    await eventually(async () => (await desktop!.listTools()).tools.some((t) => t.name === 'fm__log_later'), 20_000, 50);
    await desktop.callTool({ name: 'fm__log_later', arguments: {} });
    await eventually(() => heard.length === 1);
    expect(heard).toEqual([{ message: 'later warning' }]);
  });
});
