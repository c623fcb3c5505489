/**
 * The sandbox agents' diagnostics (`/_stats`, `/_callbacks`, `…/release`) list what callers sent,
 * session identities included, and the hub serves them without a hub token. They answer only a
 * caller on this machine (loopback peer and Host, no proxy header) that sends the marketplace's
 * key. The sandbox as the hub mounts it (createSandbox), over real HTTP.
 */
import { once } from 'node:events';
import { type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createSandbox, type Sandbox } from '../../servers/sandbox/index.js';
import { CLIENT, startSandbox, type Harness } from './harness.js';

const V1 = { authorization: 'Bearer ua_sandbox_local' };
const KORE = { authorization: 'Bearer kore_sandbox_local' };
const HTTP = { 'x-api-key': 'http_sandbox_local' };
const JSON_BODY = { 'content-type': 'application/json' };
const SESSION = `sbs_${'s'.repeat(32)}`;
/** Each diagnostic route and the key its marketplace takes. */
const ROUTES = [
  { path: '/marketplace/v1/_stats', key: V1 },
  { path: '/marketplace/v1/_callbacks', key: V1 },
  { path: '/marketplace/kore/_stats', key: KORE },
  { path: '/marketplace/http/_stats', key: HTTP },
];

/** The message of an error body: `{ error: { message } }` (upagents, Kore) or `{ error: "…" }` (the http agent). */
function errorMessage(text: string): string {
  const { error } = JSON.parse(text) as { error: string | { message: string } };
  return typeof error === 'string' ? error : error.message;
}

/** A GET with exactly these headers, Host included (fetch sets Host itself). */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const req = request(url, { headers });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return { status: res.statusCode ?? 0, text };
}

/** A kore memory_v1 turn and an upagents echo task, each naming SESSION. */
async function callAgents(issuer: string): Promise<void> {
  const kore = await fetch(`${issuer}/marketplace/kore/agents/memory_v1`, {
    method: 'POST',
    headers: { ...KORE, ...JSON_BODY },
    body: JSON.stringify({ sessionIdentity: [{ type: 'sessionReference', value: SESSION }], input: [{ type: 'text', content: 'my secret plan' }] }),
  });
  expect(kore.status).toBe(200);
  const echo = await fetch(`${issuer}/marketplace/v1/agents/echo_v1/tasks`, {
    method: 'POST',
    headers: { ...V1, ...JSON_BODY },
    body: JSON.stringify({ input: { input: 'hi' }, session_id: SESSION }),
  });
  expect(echo.status).toBe(200);
}

describe('sandbox agent diagnostics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startSandbox();
    await callAgents(h.issuer);
  });
  afterAll(async () => {
    await h.close();
  });

  it('answer a loopback caller with the key, and refuse one without it (401) or with another marketplace key', async () => {
    for (const r of ROUTES) {
      const open = await fetch(`${h.issuer}${r.path}`, { headers: r.key });
      expect(open.status, r.path).toBe(200);
      const bare = await fetch(`${h.issuer}${r.path}`);
      expect(bare.status, r.path).toBe(401);
      const text = await bare.text();
      expect(errorMessage(text)).toBe("diagnostics need the marketplace's key");
      expect(text).not.toContain(SESSION);
      const other = await fetch(`${h.issuer}${r.path}`, { headers: r.key === V1 ? KORE : V1 });
      expect(other.status, r.path).toBe(401);
    }
    const stats = (await (await fetch(`${h.issuer}/marketplace/kore/_stats`, { headers: KORE })).json()) as { requests: Record<string, unknown[]> };
    expect(stats.requests['memory_v1']).toEqual([{ sessionReference: SESSION, userReference: '', debug: false, stream: false, metadata: {} }]);
  });

  it('refuse (403) a request a proxy relayed or that names another host, key or not', async () => {
    const relayed: Array<Record<string, string>> = [
      { 'x-forwarded-for': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
      { via: '1.1 proxy' },
    ];
    for (const r of ROUTES) {
      for (const proxy of relayed) {
        const res = await fetch(`${h.issuer}${r.path}`, { headers: { ...r.key, ...proxy } });
        expect(res.status, `${r.path} ${JSON.stringify(proxy)}`).toBe(403);
        const text = await res.text();
        expect(errorMessage(text)).toBe('diagnostics answer only requests made on this machine (loopback, no proxy)');
        expect(text).not.toContain(SESSION);
      }
      const tunnelled = await rawGet(`${h.issuer}${r.path}`, { ...r.key, host: 'hub.example.test' });
      expect(tunnelled.status, r.path).toBe(403);
      expect((await rawGet(`${h.issuer}${r.path}`, { ...r.key, host: `localhost:${new URL(h.issuer).port}` })).status, r.path).toBe(200);
    }
    const v1 = await fetch(`${h.issuer}/marketplace/v1/_stats`, { headers: { ...V1, 'x-forwarded-for': '203.0.113.9' } });
    expect(await v1.json()).toEqual({ error: { type: 'forbidden', message: 'diagnostics answer only requests made on this machine (loopback, no proxy)' } });
  });

  it('a held callback is released only with the key', async () => {
    const url = `http://127.0.0.1:9/agents/callback/at_${'H'.repeat(22)}`;
    const held = await fetch(`${h.issuer}/marketplace/v1/agents/echo_v1+callback=hold/tasks`, {
      method: 'POST',
      headers: { ...V1, ...JSON_BODY },
      body: JSON.stringify({ mode: 'async', input: { input: 'x' }, webhook: { url, secret: 's' } }),
    });
    const { task_id } = (await held.json()) as { task_id: string };
    const release = (headers: Record<string, string>) => fetch(`${h.issuer}/marketplace/v1/_callbacks/${task_id}/release`, { method: 'POST', headers });
    expect((await release({})).status).toBe(401);
    expect((await release({ ...V1, 'x-forwarded-for': '203.0.113.9' })).status).toBe(403);
    const list = (await (await fetch(`${h.issuer}/marketplace/v1/_callbacks`, { headers: V1 })).json()) as { held: Array<{ task_id: string }> };
    expect(list.held.map((x) => x.task_id)).toContain(task_id);
  });

  it('memory_v1 keeps each session apart and bounded: the turn counts on, the last 20 messages are remembered, each cut to 1000 characters', async () => {
    const turn = async (content: string) => {
      const r = await fetch(`${h.issuer}/marketplace/kore/agents/memory_v1`, {
        method: 'POST',
        headers: { ...KORE, ...JSON_BODY },
        body: JSON.stringify({ sessionIdentity: [{ type: 'sessionReference', value: 'sbs_bounded' }], input: [{ type: 'text', content }] }),
      });
      return JSON.parse(((await r.json()) as { output: Array<{ content: string }> }).output[0]!.content) as { turn: number; remembered: string[] };
    };
    for (let i = 1; i <= 21; i++) await turn(i === 2 ? 'x'.repeat(1_500) : `m${i}`);
    const last = await turn('m22');
    expect(last.turn).toBe(22);
    expect(last.remembered).toEqual([`${'x'.repeat(1_000)}…`, ...Array.from({ length: 19 }, (_, i) => `m${i + 3}`)]);
    const other = await fetch(`${h.issuer}/marketplace/kore/agents/memory_v1`, {
      method: 'POST',
      headers: { ...KORE, ...JSON_BODY },
      body: JSON.stringify({ sessionIdentity: [{ type: 'sessionReference', value: 'sbs_other' }], input: [{ type: 'text', content: 'first' }] }),
    });
    expect(JSON.parse(((await other.json()) as { output: Array<{ content: string }> }).output[0]!.content)).toMatchObject({ turn: 1, remembered: [] });
  });
});

/** A non-loopback address of this machine, when it has one: a caller on it is not local. */
const lan = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

describe.runIf(lan !== undefined)('sandbox agent diagnostics from the network', () => {
  let server: Server;
  let sandbox: Sandbox;
  let issuer: string;
  beforeAll(async () => {
    const app = express();
    server = app.listen(0, String(lan));
    await once(server, 'listening');
    issuer = `http://${lan}:${(server.address() as AddressInfo).port}/sandbox`;
    sandbox = createSandbox({ issuer, clock: manualClock(), dbFile: ':memory:', clients: [CLIENT] });
    app.use('/sandbox', sandbox.router);
    await callAgents(issuer);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    sandbox.close();
  });

  it('are refused (403) to a caller that is not on loopback, with the key and a loopback Host; the agents still answer it', async () => {
    const port = (server.address() as AddressInfo).port;
    for (const r of ROUTES) {
      const res = await rawGet(`${issuer}${r.path}`, { ...r.key, host: `127.0.0.1:${port}` });
      expect(res.status, r.path).toBe(403);
      expect(errorMessage(res.text)).toBe('diagnostics answer only requests made on this machine (loopback, no proxy)');
    }
  });
});
