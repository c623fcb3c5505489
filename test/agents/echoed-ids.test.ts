/**
 * An agent that builds its task id from what it was sent (its API key among it) must not put the
 * key into the hub's log or store: the sync answer's id, the async submission's id (logged and
 * kept on the task row to match its callback) and the callback that names it (its delivery
 * record too). The log names a task only by a prefix of its id, the callback URL's secret part. A marketplace on
 * loopback speaks the upagents wire (seed 000) and echoes the bearer key into every id; the hub
 * is the real one, called by a real MCP client, with its SQLite store read afterwards.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { signedCallback } from './support.js';

const KEY = 'ua_live_echoed_into_ids_5b1f';
const SECRET = 'whsec_echoed_ids_c0ffee';

/** Every task id names the key it was called with, as a careless platform might. */
function echoingMarketplace(): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const key = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const body = JSON.parse(raw) as { mode?: string; webhook?: unknown };
      res.setHeader('content-type', 'application/json');
      if (body.mode === 'async') {
        res.statusCode = 202;
        res.end(JSON.stringify({ task_id: `q-${key}`, status: 'queued' }));
        return;
      }
      res.end(JSON.stringify({ task_id: `id-${key}`, status: 'completed', output: { reply: 'done' } }));
    });
  });
}

/** Every byte of the hub's SQLite files (the database and its write-ahead log). */
function storeBytes(dataDir: string): string {
  const files = readdirSync(dataDir).filter((f) => f.includes('.db') || f.endsWith('.sqlite'));
  if (files.length === 0) throw new Error(`no database files in ${dataDir}: ${readdirSync(dataDir).join(', ')}`);
  return files.map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');
}

describe('task ids an agent builds from its key', () => {
  let market: Server;
  let hub: RunningHub;
  let client: FaceClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    market = echoingMarketplace();
    await new Promise<void>((r) => market.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(market.address() as AddressInfo).port}/v1`;
    const agent = { protocol: 'upagents', baseUrl, agentId: 'echo', apiKey: KEY };
    hub = await startHub(
      { agents: { now: agent, later: { ...agent, mode: 'async', webhookSecret: SECRET, waitMs: 100 } }, logLevel: 'debug' },
      { log: capturedLogger(logLines), agents: { tasks: { pollMs: 20 } } },
    );
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await new Promise<void>((r) => market.close(() => r()));
  });

  it('a sync answer: the result and the log name the id with the key replaced', async () => {
    const r = await client.callTool('agent__now', { input: 'x' });
    expect(JSON.stringify(r)).not.toContain(KEY);
    const answered = logLines.find((l) => l.includes('"agent answered"'));
    expect(answered).toContain('"taskId":"id-[redacted]"');
    expect(logLines.join('')).not.toContain(KEY);
  });

  it('an async submission: neither the log nor the store holds the key; the callback naming the id still completes the task', async () => {
    const handle = (await client.callTool('agent__later', { input: 'y' })) as { structuredContent: { taskId: string; state: string } };
    const { taskId } = handle.structuredContent;
    expect(logLines.find((l) => l.includes('"agent task submitted"'))).toContain('"remoteTask":"q-[redacted]"');
    expect(logLines.join('')).not.toContain(KEY);
    expect(storeBytes(hub.dataDir)).not.toContain(KEY);

    // The platform's callback names its own id, key and all: matched against the stored one.
    const body = JSON.stringify({ task_id: `q-${KEY}`, status: 'completed', output: { reply: 'later' } });
    const base = hub.url.replace(/\/mcp$/, '');
    const res = await fetch(`${base}/agents/callback/${taskId}`, { method: 'POST', headers: signedCallback(SECRET, body), body });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const done = await eventually(async () => {
      const s = (await client.callTool('agent__task_status', { taskId })) as { structuredContent: { state: string; result?: unknown } };
      return s.structuredContent.state === 'completed' ? s.structuredContent : undefined;
    }, 10_000);
    expect(done.result).toMatchObject({ reply: 'later' });
    // Nor after the callback: its delivery is recorded under the id as the task keeps it.
    expect(storeBytes(hub.dataDir)).not.toContain(KEY);
    // The task id is an unsigned callback's only credential: the log names a prefix of it.
    expect(logLines.join('')).not.toContain(taskId);
    expect(logLines.find((l) => l.includes('"agent task finished by its callback"'))).toContain(`"task":"${taskId.slice(0, 8)}…"`);
    // A callback naming another id is still refused.
    const other = JSON.stringify({ task_id: 'q-someone-else', status: 'completed', output: { reply: 'x' } });
    const second = await client.callTool('agent__later', { input: 'z' });
    const otherTask = (second as { structuredContent: { taskId: string } }).structuredContent.taskId;
    const refused = await fetch(`${base}/agents/callback/${otherTask}`, { method: 'POST', headers: signedCallback(SECRET, other), body: other });
    expect(refused.status).toBe(400);
    await refused.body?.cancel();
    expect(logLines.join('')).not.toContain(KEY);
  });
});
