/**
 * One agent's policy against the sandbox marketplace on loopback: what is retried (transport
 * errors, 5xx, 429 with its Retry-After), what is not (timeouts, 4xx), and what the breaker counts.
 * Waits run on an injected sleep that records them, and the breaker on a manual clock.
 */
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { upagentsAgentSchema } from '../../src/definition/agents.js';
import { AgentCallError, runWithPolicy, type PolicyDeps } from '../../src/agents/policy.js';
import { UpagentsAdapter } from '../../src/agents/upagents.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { createProviderClient } from '../../src/providers/client.js';
import { SANDBOX_AGENT_KEY, marketplaceRoutes, type MarketplaceStats } from '../../servers/sandbox/agents.js';
import { recordingPolicyDeps } from './support.js';

describe('the agent policy', () => {
  let server: Server;
  let base: string;
  let stats: () => MarketplaceStats;
  const clock = manualClock(Date.UTC(2026, 0, 1));

  beforeAll(async () => {
    const app = express();
    const m = marketplaceRoutes();
    stats = m.stats;
    app.use('/v1', m.router);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function setup(agentId: string, extra: Record<string, unknown> = {}) {
    const config = upagentsAgentSchema.parse({ protocol: 'upagents', baseUrl: base, agentId, apiKey: SANDBOX_AGENT_KEY, ...extra });
    const adapter = new UpagentsAdapter({ name: agentId, config, baseUrl: () => base, provider: createProviderClient({ clock }), clock });
    const { deps, waits } = recordingPolicyDeps(clock);
    const run = (signal = new AbortController().signal) =>
      runWithPolicy(agentId, config.retries, adapter, { input: { input: 'hi' }, sessionId: 's', signal }, deps);
    const failure = async () => {
      const err = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(err instanceof AgentCallError)) throw new Error(`expected an AgentCallError, got ${String(err)}`);
      return err;
    };
    const circuit = () => deps.breakers.snapshot().find((c) => c.integration === agentId);
    return { waits, run, failure, circuit };
  }
  /** Requests the marketplace's echo agent has seen (every case here calls it, with its own failures). */
  const requests = () => stats().requests['echo_v1'] ?? 0;

  it('retries a 429 after its Retry-After, then answers', async () => {
    const before = requests();
    const p = setup('echo_v1+fail=429+fail-times=2+retry-after=7+fail-key=r429', { retries: 3 });
    const answer = await p.run();
    expect(answer).toMatchObject({ kind: 'output', output: { reply: 'echo: hi', session_id: 's' } });
    expect(p.waits).toEqual([7000, 7000]);
    expect(requests() - before).toBe(3);
    // A 429 is pacing, not trouble: the circuit was never counted against.
    expect(p.circuit()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('retries a 503 with the backoff when no Retry-After is named', async () => {
    const p = setup('echo_v1+fail=503+fail-times=2+fail-key=r503', { retries: 2 });
    await expect(p.run()).resolves.toMatchObject({ kind: 'output' });
    expect(p.waits).toEqual([100, 200]);
  });

  it('gives up when retries run out, with the last status', async () => {
    const p = setup('echo_v1+fail=502', { retries: 1 });
    const err = await p.failure();
    expect(err.reason).toBe('status');
    expect(err.message).toMatch(/^agent echo_v1\+fail=502 answered 502/);
    expect(p.waits).toEqual([100]);
    expect(p.circuit()).toMatchObject({ failures: 2 });
  });

  it('does not wait out a Retry-After past the cap: the 429 is the answer', async () => {
    const p = setup('echo_v1+fail=429+retry-after=3600', { retries: 3 });
    const err = await p.failure();
    expect(err.message).toContain('asked to wait 3600000 ms, more than 10000');
    expect(p.waits).toEqual([]);
  });

  it('does not retry a 4xx, and a 4xx never counts against the circuit', async () => {
    const p = setup('echo_v1+fail=400', { retries: 3 });
    for (let i = 0; i < 6; i++) expect((await p.failure()).reason).toBe('status');
    expect(p.waits).toEqual([]);
    expect(p.circuit()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('does not retry a timeout (the task may be running), but counts it', async () => {
    const p = setup('echo_v1+latency-ms=400', { retries: 3, timeoutMs: 50 });
    const err = await p.failure();
    expect(err.reason).toBe('timeout');
    expect(err.message).toBe('agent echo_v1+latency-ms=400 did not answer within 50 ms');
    expect(p.waits).toEqual([]);
    expect(p.circuit()).toMatchObject({ failures: 1 });
  });

  /** The agent `down` at `origin`, tried with 2 retries: its failure, the waits between attempts and its circuit. */
  async function tryDown(origin: string, mode: 'sync' | 'stream' = 'sync') {
    const config = upagentsAgentSchema.parse({ protocol: 'upagents', baseUrl: `${origin}/v1`, agentId: 'down_v1', apiKey: 'k', retries: 2, mode });
    const adapter = new UpagentsAdapter({ name: 'down', config, baseUrl: () => config.baseUrl, provider: createProviderClient({ clock }), clock });
    const waits: number[] = [];
    const breakers = new CircuitBreakers({ clock });
    const deps: PolicyDeps = { breakers, clock, sleep: async (ms) => void waits.push(ms), backoffMs: () => 5, maxRetryAfterMs: 1000 };
    const err = await runWithPolicy('down', 2, adapter, { input: {}, sessionId: 's', signal: new AbortController().signal }, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentCallError);
    return { err: err as AgentCallError, waits, circuit: breakers.snapshot()[0] };
  }

  /** A raw TCP server that reads each request whole, counts it, then does `then` to the connection. */
  async function rawAgent(then: (socket: Socket) => void): Promise<{ origin: string; requests: () => number; close: () => Promise<void> }> {
    let requests = 0;
    const server = createNetServer((socket) => {
      let seen = '';
      socket.on('data', (b) => {
        seen += b.toString('latin1');
        if (!seen.includes('\r\n\r\n') || !seen.endsWith('}')) return;
        requests++;
        then(socket);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests: () => requests,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  it('retries a refused connection (nothing reached the agent), and counts each attempt', async () => {
    // A port nothing listens on: bound, then closed.
    const gone = createNetServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const { err, waits, circuit } = await tryDown(`http://127.0.0.1:${port}`);
    expect(err.reason).toBe('transport');
    expect(waits).toEqual([5, 5]);
    expect(circuit).toMatchObject({ failures: 3 });
  });

  it('does not retry a connection reset after the request went out: the agent may be running the task', async () => {
    const agent = await rawAgent((socket) => socket.resetAndDestroy());
    try {
      const { err, waits, circuit } = await tryDown(agent.origin);
      expect(err.reason).toBe('transport');
      expect(waits).toEqual([]);
      expect(agent.requests()).toBe(1);
      expect(circuit).toMatchObject({ failures: 1 });
    } finally {
      await agent.close();
    }
  });

  /** One stream request to an agent that answers `sse` whole, for a tool with a `{ category }` output schema. */
  async function streamOnce(sse: string) {
    const agent = await rawAgent((socket) => socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n${sse}`));
    try {
      const config = upagentsAgentSchema.parse({
        protocol: 'upagents',
        baseUrl: `${agent.origin}/v1`,
        agentId: 'triage_v1',
        apiKey: 'k',
        mode: 'stream',
        outputSchema: { properties: { category: { type: 'string' } } },
      });
      const adapter = new UpagentsAdapter({ name: 'triage', config, baseUrl: () => config.baseUrl, provider: createProviderClient({ clock }), clock });
      return await adapter.call({ input: {}, sessionId: 's', signal: new AbortController().signal }).then(
        (answer) => ({ answer }),
        (err: unknown) => ({ err }),
      );
    } finally {
      await agent.close();
    }
  }

  it('a streamed answer for a tool with an output schema is the object its text spells', async () => {
    const sse = [
      'event: token\ndata: {"content":"{\\"category\\""}\n\n',
      'event: token\ndata: {"content":":\\"billing\\"}"}\n\n',
      'event: complete\ndata: {}\n\n',
    ].join('');
    expect(await streamOnce(sse)).toEqual({ answer: { kind: 'output', output: { category: 'billing' } } });
  });

  it('a complete event whose output is the JSON text of the object (as the sandbox writer sends) is that object', async () => {
    const r = await streamOnce('event: token\ndata: {"content":"{\\"category\\":"}\n\nevent: complete\ndata: {"output":"{\\"category\\":\\"billing\\"}"}\n\n');
    expect(r).toEqual({ answer: { kind: 'output', output: { category: 'billing' } } });
  });

  it('a complete event whose data is not JSON is a protocol failure, not an empty answer', async () => {
    for (const sse of [
      'event: complete\ndata: <html>oops</html>\n\n',
      'data: {not json\n\nevent: token\ndata: x\n\nevent: complete\ndata: {"output": {"categ\n\n',
    ]) {
      const r = await streamOnce(sse);
      expect(r).toMatchObject({ err: { kind: 'protocol', message: 'agent triage sent a complete event whose data is not JSON' } });
    }
  });

  it('does not retry a stream cut before its complete event (the agent took the task)', async () => {
    const agent = await rawAgent((socket) =>
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: token\ndata: {"content":"one "}\n\n'),
    );
    try {
      const { err, waits } = await tryDown(agent.origin, 'stream');
      expect(err.reason).toBe('transport');
      expect(err.message).toContain('closed its stream before the complete event');
      expect(waits).toEqual([]);
      expect(agent.requests()).toBe(1);
    } finally {
      await agent.close();
    }
  });

  it('opens after 5 failures, fails fast while open, lets one probe through after the cool-down, and closes on success', async () => {
    const p = setup('echo_v1+fail=503+fail-times=5+fail-key=brk', { retries: 0 });
    for (let i = 0; i < 5; i++) expect((await p.failure()).reason).toBe('status');
    expect(p.circuit()).toMatchObject({ state: 'open', failures: 5 });
    const before = requests();
    const open = await p.failure();
    expect(open.reason).toBe('circuit_open');
    expect(requests()).toBe(before);
    clock.advance(60_000);
    await expect(p.run()).resolves.toMatchObject({ kind: 'output' });
    expect(p.circuit()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('a probe its caller cancels counts as a failed probe: open again for a cool-down; a cancel while closed counts for nothing', async () => {
    const p = setup('echo_v1+fail=503+fail-times=5+fail-key=cprobe+latency-ms=200', { retries: 0 });
    const cancelled = async () => {
      const ctl = new AbortController();
      const before = requests();
      const call = p.run(ctl.signal);
      // Cancelled once the marketplace has the request, while it takes its 200 ms.
      while (requests() === before) await new Promise<void>((r) => setImmediate(r));
      ctl.abort(new Error('cancelled by the client'));
      await expect(call).rejects.toThrow('cancelled by the client');
    };
    for (let i = 0; i < 5; i++) expect((await p.failure()).reason).toBe('status');
    expect(p.circuit()).toMatchObject({ state: 'open', failures: 5 });
    clock.advance(60_000);
    await cancelled();
    expect(p.circuit()).toMatchObject({ state: 'open' });
    expect((await p.failure()).reason).toBe('circuit_open');
    clock.advance(60_000);
    await expect(p.run()).resolves.toMatchObject({ kind: 'output' });
    expect(p.circuit()).toMatchObject({ state: 'closed', failures: 0 });
    await cancelled();
    expect(p.circuit()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('stream: a silence longer than timeoutMs ends the stream as a timeout, not retried', async () => {
    const p = setup('writer_v2+token-ms=400', { mode: 'stream', timeoutMs: 100, retries: 2 });
    const err = await p.failure();
    expect(err.reason).toBe('timeout');
    expect(err.message).toBe('agent writer_v2+token-ms=400 sent nothing for 100 ms; the stream was closed');
    expect(p.waits).toEqual([]);
  });

  it('stream: a failure before the stream starts is retried like a sync one', async () => {
    const p = setup('writer_v2+fail=503+fail-times=1+fail-key=s503', { mode: 'stream', retries: 1 });
    await expect(p.run()).resolves.toMatchObject({ kind: 'output', output: expect.stringMatching(/^Here is a short note on hi\./) });
    expect(p.waits).toEqual([100]);
  });

  it('an agent-level error is an answer (the agent is up): passed on, not retried', async () => {
    const p = setup('echo_v1+agent-error=tool_unavailable', { retries: 3 });
    await expect(p.run()).resolves.toMatchObject({ kind: 'agent_error', type: 'tool_unavailable' });
    expect(p.waits).toEqual([]);
  });
});
