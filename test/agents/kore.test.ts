/**
 * The kore protocol (seed 003) end to end: a real hub on loopback serving the sandbox's
 * Kore-compatible agents, called by real MCP clients of both protocol eras (and the 1.x SDK).
 * What the agent received is read back from the sandbox's /_stats.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KoreAdapter, koreAnswer } from '../../src/agents/kore.js';
import { systemClock } from '../../src/clock.js';
import { koreAgentSchema } from '../../src/definition/agents.js';
import { createProviderClient } from '../../src/providers/client.js';
import { CLIENT_KINDS, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { startAgentHub } from './support.js';

const KEY = 'kore_sandbox_local';
const KORE = '/sandbox/marketplace/kore/agents';
const AUTH = { authorization: `Bearer ${KEY}` };
const MEMORY_OUT = {
  type: 'object',
  properties: { turn: { type: 'number' }, session: { type: 'string' }, remembered: { type: 'array', items: { type: 'string' } } },
  required: ['turn', 'session', 'remembered'],
};
const STORY = 'Once there was a lighthouse. It travelled far. And it came home.';

const AGENTS = {
  memory: { protocol: 'kore', url: `${KORE}/memory_v1`, headers: AUTH, outputSchema: MEMORY_OUT, debug: true },
  // Another entry on the same agent: its session identities differ from memory's (one per agent entry).
  pair: { protocol: 'kore', url: `${KORE}/memory_v1`, headers: AUTH, outputSchema: MEMORY_OUT },
  teller: { protocol: 'kore', url: `${KORE}/storyteller_v1`, headers: AUTH, stream: true, debug: true },
  slow: { protocol: 'kore', url: `${KORE}/storyteller_v1+latency-ms=1500`, headers: AUTH, timeoutMs: 300, retries: 0 },
  flaky: { protocol: 'kore', url: `${KORE}/storyteller_v1+fail=503+fail-times=1`, headers: AUTH, retries: 1 },
  stopped: { protocol: 'kore', url: `${KORE}/storyteller_v1+agent-error=context_overflow`, headers: AUTH },
  unkeyed: { protocol: 'kore', url: `${KORE}/storyteller_v1`, retries: 0 },
};

interface KoreRequestSeen {
  sessionReference: string;
  userReference: string;
  debug: boolean;
  stream: boolean;
  metadata: Record<string, unknown>;
}

describe('kore agents through the hub', () => {
  let hub: RunningHub;
  let logLines: string[] = [];
  let bobToken: string;

  beforeAll(async () => {
    ({ hub, logLines, bobToken } = await startAgentHub(AGENTS));
  });

  afterAll(async () => {
    await hub?.stop();
  });

  /** The last request the sandbox agent `id` received. */
  const lastSeen = async (id: string): Promise<KoreRequestSeen> => {
    // Diagnostics answer loopback callers that send the agents' key (servers/sandbox/agents-diagnostics.ts).
    const res = await fetch(new URL('/sandbox/marketplace/kore/_stats', hub.url), { headers: AUTH });
    const stats = (await res.json()) as { requests: Record<string, KoreRequestSeen[]> };
    return stats.requests[id]!.at(-1)!;
  };

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    it('sync: the Kore output is the result; the request carries the session identity and the call id, no debug without progress', async () => {
      const r = await client.callTool('agent__memory', { input: `hello from ${kind}` });
      expect(r.isError).toBe(false);
      const out = r.structuredContent as { session: string; reply: string };
      expect(out.reply).toBe(`noted: hello from ${kind}`);
      expect(JSON.parse(textOf(r))).toEqual(out);
      const seen = await lastSeen('memory_v1');
      expect(seen.sessionReference).toMatch(/^sbs_[A-Za-z0-9_-]{32}$/);
      expect(seen.userReference).toBe(seen.sessionReference);
      expect(out.session).toBe(`${seen.sessionReference}|${seen.userReference}`);
      expect(seen.metadata['callId']).toMatch(/^[0-9a-f-]{36}$/);
      // Nobody listens for progress: the agent is not asked for its thoughts.
      expect(seen.debug).toBe(false);
      expect(seen.stream).toBe(false);
    });

    it('debug: the agent is asked for its thoughts when the caller listens, and they arrive as progress before the result', async () => {
      const seen: string[] = [];
      const r = await client.callTool('agent__memory', { input: 'think aloud' }, { onprogress: (p) => seen.push(p.message ?? '') });
      seen.push('(result)');
      expect(r.isError).toBe(false);
      const session = (r.structuredContent as { session: string }).session;
      expect(seen).toEqual([
        `agent memory thinks: looking up the memory of session ${session}`,
        expect.stringMatching(/^agent memory thinks: \d+ earlier messages found$/),
        '(result)',
      ]);
      expect((await lastSeen('memory_v1')).debug).toBe(true);
    });

    it('stream: each message and thought arrives as progress, in order, then the whole answer', async () => {
      const seen: string[] = [];
      const r = await client.callTool('agent__teller', { input: 'a lighthouse' }, { onprogress: (p) => seen.push(p.message ?? '') });
      seen.push('(result)');
      expect(r.isError).toBe(false);
      expect(textOf(r)).toBe(STORY);
      // Messages that arrive within the progress interval of each other share a notification
      // (src/agents/progress.ts); a thought never shares one.
      expect(joinText(seen)).toEqual([
        'agent teller thinks: choosing a beginning',
        'Once there was a lighthouse. ',
        'agent teller thinks: choosing an ending',
        'It travelled far. And it came home.',
        '(result)',
      ]);
      expect(await lastSeen('storyteller_v1')).toMatchObject({ stream: true, debug: true });
    });

    it('a timeout is a clear isError result naming the agent', async () => {
      const r = await client.callTool('agent__slow', { input: 'x' });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe('agent slow did not answer within 300 ms');
    });
  });

  it("two users' calls to one Kore agent carry different, stable session identities: the agent's memory proves it", async () => {
    const alice = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    const bob = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: bobToken });
    try {
      type Memory = { turn: number; session: string; remembered: string[] };
      const say = async (c: FaceClient, input: string) => (await c.callTool('agent__pair', { input })).structuredContent as Memory;
      const a1 = await say(alice, 'alice: first');
      const b1 = await say(bob, 'bob: first');
      const a2 = await say(alice, 'alice: second');
      const b2 = await say(bob, 'bob: second');
      expect([a1.turn, a1.remembered]).toEqual([1, []]);
      expect([b1.turn, b1.remembered]).toEqual([1, []]);
      expect([a2.turn, a2.remembered]).toEqual([2, ['alice: first']]);
      expect([b2.turn, b2.remembered]).toEqual([2, ['bob: first']]);
      expect(a2.session).toBe(a1.session);
      expect(b2.session).toBe(b1.session);
      expect(b1.session).not.toBe(a1.session);
      expect(`${a1.session}${b1.session}`).not.toMatch(/alice|bob/);
      // One entry's identities are not another's, even for the same agent and user.
      const viaMemory = (await alice.callTool('agent__memory', { input: 'x' })).structuredContent as Memory;
      expect(viaMemory.session).not.toBe(a1.session);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it("a 503 is retried; an agent's error state and a refused key are isError results naming the agent", async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const flaky = await c.callTool('agent__flaky', { input: 'a lighthouse' });
      expect(flaky.isError).toBe(false);
      expect(textOf(flaky)).toBe(STORY);
      const stopped = await c.callTool('agent__stopped', { input: 'x' });
      expect(stopped.isError).toBe(true);
      expect(textOf(stopped)).toBe('agent stopped reported error: the agent stopped: context_overflow');
      const unkeyed = await c.callTool('agent__unkeyed', { input: 'x' });
      expect(unkeyed.isError).toBe(true);
      expect(textOf(unkeyed)).toBe(
        'agent unkeyed answered 401: {"error":{"message":"a valid bearer key is required"}}; agent unkeyed refused the hub\'s credentials: check the key configured for agents.unkeyed',
      );
    } finally {
      await c.close();
    }
  });

  it('async shape: a request with a callback carries metadata.callbackUrl, a 202 is submitted, and the posted body reads as the answer', async () => {
    // The task store waits for the callback (another part); this is what the adapter gives it.
    let posted!: (body: unknown) => void;
    const received = new Promise<unknown>((r) => {
      posted = r;
    });
    const receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString('utf8');
      });
      req.on('end', () => {
        res.end();
        posted(JSON.parse(text));
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/agents/callback/at_${'A'.repeat(22)}`;
      const origin = new URL(hub.url).origin;
      const config = koreAgentSchema.parse({ protocol: 'kore', url: `${KORE}/memory_v1`, headers: AUTH, async: true, outputSchema: MEMORY_OUT });
      const adapter = new KoreAdapter({ name: 'desk', config, provider: createProviderClient(), clock: systemClock, publicUrl: () => origin });
      const signal = new AbortController().signal;
      const answer = await adapter.call({
        input: { input: 'later' },
        sessionId: 'sbs_async',
        callId: 'call-1',
        signal,
        callback: { url: callbackUrl, secret: 'unused' },
      });
      expect(answer).toEqual({ kind: 'submitted', taskId: expect.stringMatching(/^msg-/), state: 'busy' });
      expect((await lastSeen('memory_v1')).metadata).toEqual({ callId: 'call-1', callbackUrl });
      const body = await received;
      expect(koreAnswer(body, 'desk', { structured: true })).toEqual({
        kind: 'output',
        output: { turn: 1, session: 'sbs_async|sbs_async', remembered: [], reply: 'noted: later' },
        taskId: (answer as { taskId: string }).taskId,
      });
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('the bearer key in the headers never reaches the logs', () => {
    const all = logLines.join('');
    expect(all).toContain('agent answered');
    expect(all).not.toContain(KEY);
  });
});

/** Progress messages with consecutive text (not thoughts, not the result mark) joined into one. */
function joinText(seen: readonly string[]): string[] {
  const out: string[] = [];
  const isText = (m: string) => !m.includes(' thinks: ') && m !== '(result)';
  for (const m of seen) {
    const last = out.at(-1);
    if (last !== undefined && isText(last) && isText(m)) out[out.length - 1] = last + m;
    else out.push(m);
  }
  return out;
}
