import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { manualClock } from '../../src/clock.js';
import type { TaskOwner } from '../../src/mcp/tasks/types.js';
import { RetryForwarder } from '../../src/replicas/forward.js';
import type { ReplicaLookup } from '../../src/replicas/registry.js';
import { SqliteReplicaRegistry } from '../../src/replicas/sqlite.js';
import { openDb } from '../../src/store/db.js';

/**
 * Replicas as the forwarder sees them, over real HTTP on loopback: "B" (an express app handing
 * every POST to a RetryForwarder, as the HTTP face does), the holder (a plain server that records
 * what reached it and answers as the test says, registered under HOLDER), and the registry both
 * share, on one clock the test moves. B's registry reads can be made to fail (the store away) and
 * a hook runs before each of them, so a test steps a forwarded round check by check, no sleeps.
 */
export const HOLDER = 'host-a/1/aaaaaaaa';
export const alice = { tenant: 'default', user: 'alice' };

export const retry = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'v1h__transfer', requestState: 'v1.x.y', inputResponses: { k: {} } } };
export const taskGet = { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { taskId: 'task_1' } };
export const HOLDER_ANSWER = { jsonrpc: '2.0', id: 7, result: { content: [] } };

/** B's view of the registry: the shared table, read through a store that may be away. */
class ReadsCounted extends SqliteReplicaRegistry {
  reads = 0;
  away = false;
  beforeRead: (n: number) => Promise<void> | void = () => {};

  override async lookup(id: string): Promise<ReplicaLookup | undefined> {
    this.reads += 1;
    await this.beforeRead(this.reads);
    if (this.away) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return super.lookup(id);
  }
}

export function forwardHarness() {
  const clock = manualClock();
  const db = openDb({ file: ':memory:', clock });
  const registry = new ReadsCounted(db, { clock });
  const holder = new SqliteReplicaRegistry(db, { clock });
  const servers: Server[] = [];
  const seen: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  /** The tasks a forwarder recorded as having lost their holder. */
  const goneTasks: string[] = [];
  let holderServer: Server | undefined;
  const h = {
    clock,
    registry,
    holder,
    seen,
    goneTasks,
    answer: (res: ServerResponse): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(HOLDER_ANSWER)),

    async listen(server: Server): Promise<string> {
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },

    /** Starts the holder and registers it under HOLDER, beating now; returns its base URL. */
    async startHolder(): Promise<string> {
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push({ headers: req.headers, body });
          h.answer(res);
        });
      });
      holderServer = server;
      const url = await h.listen(server);
      await holder.register({ id: HOLDER, url, startedAt: clock.now() });
      return url;
    },

    /** Makes the holder keep every request unanswered (a round waiting for its outcome); returns the last one kept. */
    holdRounds(): () => ServerResponse | undefined {
      let held: ServerResponse | undefined;
      h.answer = (res) => {
        held = res;
      };
      return () => held;
    },

    /** Closes the holder's listener, as its process exiting does: its address then refuses connections. */
    async killHolder(): Promise<void> {
      const server = holderServer;
      servers.splice(servers.indexOf(server!), 1);
      await new Promise((r) => {
        server?.close(r);
        server?.closeAllConnections();
      });
    },

    /** Starts a replica running as `self`, whose states and alice's task_1 all name HOLDER; returns its base URL. */
    async startReplica(self: string, checkEveryMs?: number): Promise<string> {
      const forwarder = new RetryForwarder({
        registry,
        self,
        ownerOf: async () => HOLDER,
        taskHolder: Object.assign(async (who: TaskOwner, taskId: string) => (who.user === 'alice' && taskId === 'task_1' ? HOLDER : undefined), {
          gone: async (who: TaskOwner, taskId: string) => void goneTasks.push(`${who.user}/${taskId}`),
        }),
        log: pino({ level: 'silent' }),
        ...(checkEveryMs === undefined ? {} : { checkEveryMs }),
      });
      const app = express();
      app.use(express.json());
      app.post('/mcp', async (req, res) => {
        if (!(await forwarder.handle(req, res, req.body, alice))) res.status(418).json({ servedHere: self });
      });
      return h.listen(createServer(app));
    },

    post(base: string, body: unknown, headers: Record<string, string> = {}) {
      return fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer alice', 'mcp-protocol-version': '2026-07-28', ...headers },
        body: JSON.stringify(body),
      });
    },

    async close(): Promise<void> {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      servers.length = 0;
    },
  };
  return h;
}

export type ForwardHarness = ReturnType<typeof forwardHarness>;

/** What a retry whose holder is gone is answered, `why` being the hub's own reason if one is said. */
export function goneAnswer(why?: string) {
  return {
    jsonrpc: '2.0',
    id: 7,
    result: {
      content: [
        {
          type: 'text',
          text: `This call was waiting for your answer in Switchboard process ${HOLDER}, which is no longer running${why ? ` (${why})` : ''}, so it cannot be resumed. Call it again from the start.`,
        },
      ],
      isError: true,
      _meta: { 'switchboard/error': { code: 'source_crashed', retryable: true } },
      resultType: 'complete',
    },
  };
}
