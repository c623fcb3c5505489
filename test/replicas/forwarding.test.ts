import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { SqliteReplicaRegistry } from '../../src/replicas/sqlite.js';
import { openDb } from '../../src/store/db.js';
import { ROOT } from '../helpers/hub.js';
import { modernEnvelope, rawModernCall, type RawReply } from '../helpers/raw-mcp.js';
import { serve, type ServeProcess } from '../oauth/support.js';
import { startServePair, type ServePair } from './serve-pair.js';

/**
 * Two `serve` processes on one data dir, as two replicas: a 2026-07-28 client's call to a 2025-era
 * downstream is held open in the process that started it, and a retry that reaches the other
 * process is sent on to it (issue 13) — or, when the holder is gone, answered at once saying so.
 */
const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');

/** A raw 2026-07-28 call of the downstream's `transfer`, the client declaring elicitation and sampling; `extra` joins the headers. */
function call(url: string, token: string, params: Record<string, unknown>, extra: Record<string, string> = {}) {
  const envelope = modernEnvelope({ elicitation: { form: {} }, sampling: {} });
  return rawModernCall(url, token, { name: 'v1h__transfer', arguments: { account: 'A-1' }, _meta: envelope, ...params }, extra);
}

const confirm = (key: string, who: string) => ({ [key]: { action: 'accept', content: { who } } });
const sample = (key: string) => ({ [key]: { role: 'assistant', model: 'm', content: { type: 'text', text: 'ok' } } });

/** The first round's input request key, and the state to send back with its answer. */
function round(reply: RawReply): { key: string; method: string; state: string } {
  expect(reply.result).toMatchObject({ resultType: 'input_required' });
  const [key, request] = Object.entries(reply.result!.inputRequests as Record<string, { method: string }>)[0]!;
  return { key, method: request.method, state: String(reply.result!.requestState) };
}

/** The PROCESS_ID a held call's state names: the signed envelope is readable, only not forgeable. */
function holderOf(state: string): string {
  const body = state.slice(3, state.lastIndexOf('.'));
  const envelope = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { p: { v: string } };
  return (JSON.parse(envelope.p.v.slice('held:'.length)) as { p: string }).p;
}

describe('a retry reaching another replica than the one holding its call', () => {
  let downstream: ChildProcess;
  let pair: ServePair;
  let a: ServeProcess;
  let b: ServeProcess;
  let alice: string;
  let bob: string;
  let data: string;
  let config: string;

  beforeAll(async () => {
    downstream = spawn(process.execPath, [ASKING, '--v1-http'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((res) =>
      createInterface({ input: downstream.stdout! }).once('line', (l) => res((JSON.parse(l) as { port: number }).port)),
    );
    pair = await startServePair({ mcpServers: { v1h: { url: `http://127.0.0.1:${port}/mcp` } } });
    ({ a, b, alice, bob, data, config } = pair);
    // Two hubs and a CLI run start up on two shared cores.
  }, 90_000);

  afterAll(async () => {
    await pair?.stop();
    downstream?.kill('SIGTERM');
  });

  it('is sent to the holder, and the call completes with every round answered through the other replica', async () => {
    const first = round(await call(a.url, alice, {}));
    expect(first.method).toBe('elicitation/create');

    const second = await call(b.url, alice, { inputResponses: confirm(first.key, 'alice'), requestState: first.state });
    expect(second.status).toBe(200);
    const next = round(second);
    expect(next.method).toBe('sampling/createMessage');
    // The holder is still A: its next round is held there too.
    expect(holderOf(next.state)).toBe(holderOf(first.state));

    const done = await call(b.url, alice, { inputResponses: sample(next.key), requestState: next.state });
    expect(done.result).toMatchObject({ content: [{ type: 'text', text: JSON.stringify({ account: 'A-1', who: 'alice', sampled: 'ok' }) }] });
    expect(done.result?.['isError']).toBeUndefined();
  });

  it('a forwarded request is not forwarded again: the receiving process answers it as it would without replicas', async () => {
    const first = round(await call(a.url, alice, {}));
    const looped = await call(b.url, alice, { inputResponses: confirm(first.key, 'alice'), requestState: first.state }, { 'x-switchboard-forwarded': '1' });
    expect(looped.result?.['isError']).toBe(true);
    expect(JSON.stringify(looped.result?.content)).toContain('another Switchboard process');
    // The call is still held, untouched, where it waits.
    const resumed = await call(b.url, alice, { inputResponses: confirm(first.key, 'alice'), requestState: first.state });
    expect(round(resumed).method).toBe('sampling/createMessage');
  });

  it("refuses bob's retry with alice's state, as a single process does, and alice's call goes on", async () => {
    const first = round(await call(a.url, alice, {}));
    const stolen = await call(b.url, bob, { inputResponses: confirm(first.key, 'bob'), requestState: first.state });
    expect(stolen.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
    expect(stolen.result).toBeUndefined();
    const own = await call(b.url, alice, { inputResponses: confirm(first.key, 'alice'), requestState: first.state });
    expect(round(own).method).toBe('sampling/createMessage');
  });

  it('a state signed with another key is served here and refused, never forwarded', async () => {
    const forged = await call(b.url, alice, { inputResponses: confirm('input-1', 'alice'), requestState: 'v1.e30.AAAA' });
    expect(forged.error).toMatchObject({ code: -32602 });
  });

  it('once the holder is killed, the retry on the other replica is told at once that it is no longer running', async () => {
    const first = round(await call(a.url, alice, {}));
    const holder = holderOf(first.state);
    // A SIGKILL leaves A's heartbeat fresh in the registry: the refused connection is what B sees.
    await a.kill('SIGKILL');
    const db = openDb({ file: join(data, 'switchboard.db'), clock: systemClock });
    const registry = new SqliteReplicaRegistry(db, { clock: systemClock });
    expect(await registry.lookup(holder)).toMatchObject({ url: `http://127.0.0.1:${a.port}`, alive: true });

    const started = performance.now();
    const orphan = await call(b.url, alice, { inputResponses: confirm(first.key, 'alice'), requestState: first.state });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(orphan.result?.['isError']).toBe(true);
    expect(JSON.stringify(orphan.result?.content)).toContain(`Switchboard process ${holder}, which is no longer running`);
    // Coded as every failed call is; the holder's internal address stays in B's log.
    expect(orphan.result?.['_meta']).toEqual({ 'switchboard/error': { code: 'source_crashed', retryable: true } });
    expect(JSON.stringify(orphan)).not.toContain(`127.0.0.1:${a.port}`);

    db.close();
  });

  it('once the holder stopped cleanly, a replica started after it says so at once (its address refuses)', async () => {
    const held = round(await call(b.url, alice, {}));
    await b.kill('SIGTERM');
    const c = await serve(config, data);
    try {
      const started = performance.now();
      const orphan = await call(c.url, alice, { inputResponses: confirm(held.key, 'alice'), requestState: held.state });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(orphan.result?.['isError']).toBe(true);
      expect(JSON.stringify(orphan.result?.content)).toContain(`Switchboard process ${holderOf(held.state)}, which is no longer running`);
    } finally {
      await c.kill();
    }
  });
});
