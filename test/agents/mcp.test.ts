/**
 * Agents as MCP tools, end to end: a real hub on loopback serving the sandbox marketplace it
 * hosts, called by real MCP clients of both protocol eras (and the 1.x SDK client).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSource } from '../../src/agents/source.js';
import { CLIENT_KINDS, argumentRefusal, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { FAILING_AGENTS, SB, startAgentHub, TICKET } from './support.js';

const KEY = SB.apiKey;

const SECRET_HEADER = 'hdr-value-never-shown-9f2c';
const ECHO_OUT = { type: 'object', properties: { reply: { type: 'string' }, session_id: { type: 'string' } }, required: ['reply', 'session_id'] };

const AGENTS = {
  echo: { ...SB, agentId: 'echo_v1', outputSchema: ECHO_OUT, headers: { 'x-trace-secret': SECRET_HEADER } },
  writer: { ...SB, agentId: 'writer_v2', mode: 'stream', headers: { 'x-sandbox-token-ms': '3' } },
  slow: { ...SB, agentId: 'echo_v1', timeoutMs: 300, retries: 0, headers: { 'x-sandbox-latency-ms': '1500' } },
  // A header that is a setting, not a credential (the README's example): its value is an ordinary word.
  team: { ...SB, agentId: 'echo_v1', headers: { 'X-Team': 'support' } },
  ...FAILING_AGENTS,
};

describe('agents through the hub', () => {
  let hub: RunningHub;
  let logLines: string[] = [];
  let bobToken: string;

  beforeAll(async () => {
    ({ hub, logLines, bobToken } = await startAgentHub(AGENTS));
  });

  afterAll(async () => {
    await hub?.stop();
  });

  const source = () => hub.hub.catalog.sources().find((s) => s.kind === 'agent') as AgentSource;

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    it('lists each agent as agent__<name>, open world, with its schemas', async () => {
      const { tools } = await client.listPage();
      const names = tools.map((t) => t.name).filter((n) => n.startsWith('agent__'));
      expect(names.sort()).toEqual(
        Object.keys(AGENTS)
          .map((n) => `agent__${n}`)
          .sort(),
      );
      const echo = tools.find((t) => t.name === 'agent__echo') as { outputSchema?: unknown; annotations?: { openWorldHint?: boolean } };
      expect(echo.outputSchema).toEqual(ECHO_OUT);
      expect(echo.annotations?.openWorldHint).toBe(true);
    });

    it('sync: returns the output as text and as structuredContent', async () => {
      const r = await client.callTool('agent__echo', { input: 'hello' });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ reply: 'echo: hello', confidence: 1 });
      expect(JSON.parse(textOf(r))).toEqual(r.structuredContent);
    });

    it('stream: partial output arrives as progress before the result', async () => {
      const seen: Array<{ at: 'progress'; message: string } | { at: 'result' }> = [];
      const r = await client.callTool(
        'agent__writer',
        { input: 'queues and breakers' },
        { onprogress: (p) => seen.push({ at: 'progress', message: p.message ?? '' }) },
      );
      seen.push({ at: 'result' });
      expect(r.isError).toBe(false);
      const text = textOf(r);
      expect(text).toMatch(/^Here is a short note on queues and breakers\./);
      const progress = seen.filter((s) => s.at === 'progress') as Array<{ message: string }>;
      // The tool call, then the text as it streams (tokens within 10 ms of each other share a notification).
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(seen.at(-1)).toEqual({ at: 'result' });
      expect(progress[0]!.message).toBe('agent writer is calling the tool lookup');
      // The tokens, in order, are the answer.
      expect(
        progress
          .slice(1)
          .map((p) => p.message)
          .join(''),
      ).toBe(text);
    });

    it('a timeout is a clear isError result naming the agent', async () => {
      const r = await client.callTool('agent__slow', { input: 'x' });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe('agent slow did not answer within 300 ms');
    });
  });

  it('arguments outside the input schema are refused before any call, as a tool error coded invalid_arguments', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      expect(argumentRefusal(await c.callTool('agent__echo', { input: 'x', extra: 1 }))).toContain('unknown argument "extra"');
      expect(argumentRefusal(await c.callTool('agent__broken', { ticket_subject: 'no body' }))).toContain('invalid arguments for agent__broken');
      // The refused call never reached the agent: its circuit has no record of it.
      expect((await source().circuits()).find((b) => b.integration === 'broken')).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('an invalid output goes to the fallback, and the result says which agent answered and why', async () => {
    const c = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__bent', TICKET);
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ category: 'billing', priority: 'high' });
      expect(r.content).toHaveLength(2);
      expect((r.content[1] as { text: string }).text).toMatch(
        /^Answered by fallback agent triage_ok because agent bent: the output does not match the output schema/,
      );
    } finally {
      await c.close();
    }
  });

  it('an agent-level error and a low confidence are clear isError results naming the agent', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const overflow = await c.callTool('agent__overflow', { input: 'a very long text' });
      expect(overflow.isError).toBe(true);
      expect(textOf(overflow)).toBe('agent overflow reported context_overflow: the agent stopped: context_overflow');
      const unsure = await c.callTool('agent__unsure', TICKET);
      expect(unsure.isError).toBe(true);
      expect(textOf(unsure)).toBe('agent unsure: the confidence at $.confidence_score is 0.1, below 0.7');
    } finally {
      await c.close();
    }
  });

  it('5 failures open the breaker; the fallback answers throughout, then without calling the open agent', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await c.callTool('agent__broken', TICKET);
        expect(r.isError).toBe(false);
        expect((r.content[1] as { text: string }).text).toBe(
          'Answered by fallback agent triage_ok because agent broken answered 503: {"error":{"type":"injected","message":"the sandbox was asked to answer 503"}}',
        );
      }
      expect((await source().circuits()).find((b) => b.integration === 'broken')).toMatchObject({ state: 'open', failures: 5 });
      const r = await c.callTool('agent__broken', TICKET);
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toBeUndefined();
      expect(JSON.parse(textOf(r))).toMatchObject({ category: 'billing' });
      expect((r.content[1] as { text: string }).text).toMatch(/^Answered by fallback agent triage_ok because agent broken: broken is failing \(5 consecutive/);
    } finally {
      await c.close();
    }
  });

  it("two users' calls carry different session identities, each stable and opaque", async () => {
    const alice = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    const bob = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: bobToken });
    try {
      const session = async (c: FaceClient) =>
        ((await c.callTool('agent__echo', { input: 'who am I' })).structuredContent as { session_id: string }).session_id;
      const [a1, b1, a2, b2] = [await session(alice), await session(bob), await session(alice), await session(bob)];
      expect(a1).toMatch(/^sbs_[A-Za-z0-9_-]{32}$/);
      expect(a2).toBe(a1);
      expect(b2).toBe(b1);
      expect(b1).not.toBe(a1);
      expect(`${a1}${b1}`).not.toMatch(/alice|bob/);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('100 concurrent calls from 10 sessions: every result reaches its own caller', async () => {
    const kinds = ['v2-auto', 'v2-legacy'] as const;
    const clients = await Promise.all(
      Array.from({ length: 10 }, (_, i) => connectClient(kinds[i % 2]!, { transport: 'http', url: hub.url, token: hub.token })),
    );
    try {
      const calls = clients.flatMap((c, i) =>
        Array.from({ length: 10 }, async (_, j) => {
          const r = await c.callTool('agent__echo', { input: `c${i}-${j}` });
          return (r.structuredContent as { reply: string }).reply;
        }),
      );
      const replies = await Promise.all(calls);
      expect(replies).toEqual(clients.flatMap((_, i) => Array.from({ length: 10 }, (_, j) => `echo: c${i}-${j}`)));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 60_000);

  it('a secret an agent echoes back is scrubbed from the result', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__echo', { input: `the key is ${KEY} and ${SECRET_HEADER}` });
      expect(r.structuredContent).toMatchObject({ reply: 'echo: the key is [redacted] and [redacted]' });
      expect(JSON.stringify(r.content)).not.toContain(SECRET_HEADER);
      // A setting's value is not a secret: an answer that says "support" keeps it.
      const team = await c.callTool('agent__team', { input: 'please contact support about my order' });
      expect(textOf(team)).toContain('echo: please contact support about my order');
    } finally {
      await c.close();
    }
  });

  it('no secret (API key, header value) reaches the logs', () => {
    const all = logLines.join('');
    expect(all).toContain('agent answered');
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(SECRET_HEADER);
  });
});
