import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { eventually } from '../helpers/hub.js';
import type { TaskOwner } from '../../src/mcp/tasks/types.js';
import { RetryForwarder } from '../../src/replicas/forward.js';
import { DEFAULT_HEARTBEAT_MS, MISSED_BEATS } from '../../src/replicas/registry.js';
import { SqliteReplicaRegistry } from '../../src/replicas/sqlite.js';
import { openDb } from '../../src/store/db.js';

/**
 * The forwarder between two real HTTP servers on loopback: "B" (an express app handing every POST
 * to the forwarder, as the HTTP face does) and "A" (the holder, here a plain server that records
 * what reached it and answers as the test says).
 */
const SELF = 'host-b/2/bbbbbbbb';
const HOLDER = 'host-a/1/aaaaaaaa';
const alice = { tenant: 'default', user: 'alice' };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('RetryForwarder', () => {
  const clock = manualClock();
  let registry: SqliteReplicaRegistry;
  let holder: SqliteReplicaRegistry;
  let servers: Server[];
  let seen: Array<{ headers: IncomingHttpHeaders; body: string; url: string | undefined }>;
  /** The tasks the forwarder recorded as having lost their holder. */
  let goneTasks: string[];
  let answer: (res: import('node:http').ServerResponse) => void;

  beforeEach(() => {
    const db = openDb({ file: ':memory:', clock });
    registry = new SqliteReplicaRegistry(db, { clock });
    holder = new SqliteReplicaRegistry(db, { clock });
    servers = [];
    seen = [];
    goneTasks = [];
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":7,"result":{"content":[]}}');
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  /** Starts A, registered under HOLDER; returns its base URL. */
  async function startHolder(): Promise<string> {
    const a = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body, url: req.url });
        answer(res);
      });
    });
    servers.push(a);
    const url = await listen(a);
    await holder.register({ id: HOLDER, url, startedAt: clock.now() });
    return url;
  }

  /** Stops A, the first server started: its address then refuses connections. */
  async function stopHolder(): Promise<void> {
    await Promise.all(
      servers.splice(0, 1).map(
        (s) =>
          new Promise((r) => {
            s.close(r);
            s.closeAllConnections();
          }),
      ),
    );
  }

  /** Starts B with a forwarder whose states all name `owner`; returns its /mcp URL. */
  async function startReplica(owner: string | undefined, timeoutMs?: number, checkEveryMs?: number): Promise<string> {
    const forwarder = new RetryForwarder({
      registry,
      self: SELF,
      ownerOf: async () => owner,
      taskHolder: Object.assign(async (who: TaskOwner, taskId: string) => (who.user === 'alice' && taskId === 'task_1' ? owner : undefined), {
        gone: async (who: TaskOwner, taskId: string) => void goneTasks.push(`${who.user}/${taskId}`),
      }),
      log: pino({ level: 'silent' }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(checkEveryMs === undefined ? {} : { checkEveryMs }),
    });
    const app = express();
    app.use(express.json());
    app.post('/mcp', async (req, res) => {
      const who = req.get('authorization') === 'Bearer bob' ? { tenant: 'default', user: 'bob' } : alice;
      if (!(await forwarder.handle(req, res, req.body, who))) res.status(418).json({ servedHere: true });
    });
    const b = createServer(app);
    servers.push(b);
    return `${await listen(b)}/mcp`;
  }

  const retry = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'v1h__transfer', requestState: 'v1.x.y', inputResponses: { k: {} } } };
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer alice', 'mcp-protocol-version': '2026-07-28', cookie: 'c=1', ...headers },
      body: JSON.stringify(body),
    });

  it("sends the retry as received, with the client's credentials and MCP headers only, and relays the answer", async () => {
    const base = await startHolder();
    const b = await startReplica(HOLDER);
    const res = await post(b, retry, { 'mcp-method': 'tools/call', 'mcp-name': 'v1h__transfer', origin: 'http://127.0.0.1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 7, result: { content: [] } });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/mcp');
    expect(JSON.parse(seen[0]!.body)).toEqual(retry);
    expect(seen[0]!.headers).toMatchObject({
      authorization: 'Bearer alice',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'v1h__transfer',
      // Naming the process it is meant for: another one at that address answers it 421.
      'x-switchboard-forwarded': HOLDER,
      host: new URL(base).host,
    });
    expect(seen[0]!.headers).not.toHaveProperty('cookie');
    expect(seen[0]!.headers).not.toHaveProperty('origin');
  });

  it('streams an event-stream answer as the holder writes it', async () => {
    let finish: () => void = () => {};
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n');
      finish = () => res.end('event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{}}\n\n');
    };
    await startHolder();
    const res = await post(await startReplica(HOLDER), retry);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    // The first event arrives while the holder still holds the stream open.
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('notifications/progress');
    finish();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toContain('"id":7');
  });

  it('serves here what it must: its own state, a forwarded request, a holder never registered, another method', async () => {
    await startHolder();
    expect((await post(await startReplica(SELF), retry)).status).toBe(418);
    const b = await startReplica(HOLDER);
    expect((await post(b, retry, { 'x-switchboard-forwarded': '1' })).status).toBe(418);
    expect((await post(b, { ...retry, method: 'tools/list' })).status).toBe(418);
    expect((await post(b, { ...retry, params: { name: 'x' } })).status).toBe(418);
    expect((await post(await startReplica('host-c/3/stdio'), retry)).status).toBe(418);
    expect(seen).toHaveLength(0);
  });

  it('a stopped or unreachable holder: the retry is told at once that it is no longer running', async () => {
    const base = await startHolder();
    const b = await startReplica(HOLDER);
    // Stopped: its row says so, and its address refuses connections.
    await stopHolder();
    await holder.forget();
    const gone = {
      id: 7,
      result: {
        content: [
          {
            type: 'text',
            text: `This call was waiting for your answer in Switchboard process ${HOLDER}, which is no longer running, so it cannot be resumed. Call it again from the start.`,
          },
        ],
        isError: true,
        _meta: { 'switchboard/error': { code: 'source_crashed', retryable: true } },
        resultType: 'complete',
      },
    };
    expect(await (await post(b, retry)).json()).toEqual({ jsonrpc: '2.0', ...gone });
    // Killed: its row still beats, but nothing listens at its address. The same answer: the
    // refused connection names the holder's internal address, which stays in the log.
    await holder.register({ id: HOLDER, url: base, startedAt: clock.now() });
    const killed = await (await post(b, retry)).json();
    expect(killed).toEqual({ jsonrpc: '2.0', ...gone });
    expect(JSON.stringify(killed)).not.toContain(new URL(base).host);
    // A prompts/get retry gets the SDK's answer for an unusable state.
    const prompt = await post(b, { ...retry, method: 'prompts/get' });
    expect(prompt.status).toBe(400);
    expect(await prompt.json()).toMatchObject({ id: 7, error: { code: -32602 } });
  });

  it('a holder that does not answer in time ends the round with the error', async () => {
    answer = () => {};
    await startHolder();
    const res = await (await post(await startReplica(HOLDER, 200), retry)).json();
    expect(JSON.stringify(res)).toContain('the owner did not answer in time');
  });

  it('a holder that stops beating while the round waits (frozen) is given up as gone, not waited for', async () => {
    let held: import('node:http').ServerResponse | undefined;
    answer = (res) => {
      held = res;
    };
    await startHolder();
    const b = await startReplica(HOLDER, undefined, 10);
    const pending = post(b, retry);
    // The holder has the round and keeps it (a SIGSTOPped process's socket accepts and says nothing).
    await eventually(() => (seen.length === 1 ? true : undefined));
    clock.advance(MISSED_BEATS * DEFAULT_HEARTBEAT_MS);
    const res = await pending;
    expect(await res.json()).toMatchObject({
      id: 7,
      result: {
        content: [{ type: 'text', text: expect.stringContaining('which is no longer running (it stopped sending heartbeats while the call waited)') }],
        isError: true,
        _meta: { 'switchboard/error': { code: 'source_crashed', retryable: true } },
      },
    });
    // The round on the holder is dropped with it, not left open.
    expect(await eventually(() => (held?.destroyed ? true : undefined))).toBe(true);
  });

  it("task requests go to the holder for the task's owner only, and are served here when the holder is gone", async () => {
    await startHolder();
    const b = await startReplica(HOLDER);
    const get = { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { taskId: 'task_1' } };
    expect((await post(b, get)).status).toBe(200);
    expect((await post(b, get, { authorization: 'Bearer bob' })).status).toBe(418);
    expect((await post(b, { ...get, method: 'tasks/list' })).status).toBe(418);
    expect(seen).toHaveLength(1);
    expect(goneTasks).toEqual([]);
    await stopHolder();
    await holder.forget();
    expect((await post(b, get)).status).toBe(418);
    // Served here once the record says the task lost its holder.
    expect(goneTasks).toEqual(['alice/task_1']);
  });

  it('a task whose holder has not beaten for three intervals is still asked there; recorded as having lost it once its address refuses', async () => {
    await startHolder();
    const b = await startReplica(HOLDER);
    const get = { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { taskId: 'task_1' } };
    // Stale, as every replica's beat is after the store was away: no proof the holder is gone.
    clock.advance(MISSED_BEATS * DEFAULT_HEARTBEAT_MS);
    expect((await post(b, get)).status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(goneTasks).toEqual([]);
    await stopHolder();
    expect((await post(b, get)).status).toBe(418);
    expect(goneTasks).toEqual(['alice/task_1']);
  });
});
