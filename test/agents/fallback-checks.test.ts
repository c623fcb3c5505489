/**
 * What a fallback is held to when it answers for the agent called (README, Agents, Resilience): it
 * takes the called tool's arguments (checked against its own `inputSchema` only when it declares
 * one), its answer passes its own checks and the called tool's output schema but not the called
 * agent's `minConfidence`, and its text is read as the JSON object the called tool's schema asks.
 * A real hub on loopback hosting the sandbox marketplace (upagents and Kore agents), real clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { bearerClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { SB, startAgentHub, TICKET, TRIAGE_IN } from './support.js';

const KORE = '/sandbox/marketplace/kore/agents';
const KORE_AUTH = { authorization: 'Bearer kore_sandbox_local' };
/** The README's example input: the ticket's body alone. */
const TICKET_IN = { type: 'object', properties: { ticket_body: { type: 'string' } }, required: ['ticket_body'] };
const CATEGORY_OUT = { type: 'object', properties: { category: { type: 'string' } }, required: ['category'] };
/** What the Kore agent memory_v1 answers, as JSON text: its turn and a reply. */
const MEMORY_OUT = { type: 'object', properties: { turn: { type: 'number' }, reply: { type: 'string' } }, required: ['turn', 'reply'] };
const LOW = { ...SB, agentId: 'support_triage_v4+output=low_confidence', retries: 0 };

const AGENTS = {
  // The README's example: a primary with an input schema, a basic classifier without one.
  support_triage: {
    ...SB,
    agentId: 'support_triage_v4+fail=503',
    retries: 0,
    inputSchema: TICKET_IN,
    outputSchema: CATEGORY_OUT,
    fallback: 'support_triage_basic',
  },
  support_triage_basic: { ...SB, agentId: 'support_triage_v4' },
  // A fallback that declares an input schema the arguments do not fit is still refused them.
  picky_primary: { ...SB, agentId: 'support_triage_v4+fail=503', retries: 0, inputSchema: TRIAGE_IN, fallback: 'picky' },
  picky: { ...SB, agentId: 'echo_v1', inputSchema: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } },
  // Confidence 0.1 everywhere: the primary's 0.7 is its own; each fallback has its own rule or none.
  unsure: { ...LOW, inputSchema: TRIAGE_IN, minConfidence: { path: '$.confidence_score', min: 0.7 }, fallback: ['fb_strict', 'fb_plain'] },
  fb_strict: { ...LOW, minConfidence: { path: '$.confidence_score', min: 0.5 } },
  fb_plain: LOW,
  // The called tool's schema is the result's contract: a fallback's answer must keep it.
  shaped: { ...SB, agentId: 'echo_v1+fail=503', retries: 0, outputSchema: CATEGORY_OUT, fallback: 'echo_plain' },
  echo_plain: { ...SB, agentId: 'echo_v1' },
  // Kore answers text; without a schema of its own, memory_v1's JSON text is read for the called tool's.
  remember: { ...SB, agentId: 'echo_v1+fail=503', retries: 0, outputSchema: MEMORY_OUT, fallback: 'memory_text' },
  memory_text: { protocol: 'kore', url: `${KORE}/memory_v1`, headers: KORE_AUTH },
  tell: { ...SB, agentId: 'echo_v1+fail=503', retries: 0, outputSchema: MEMORY_OUT, fallback: 'story_text' },
  story_text: { protocol: 'kore', url: `${KORE}/storyteller_v1`, headers: KORE_AUTH },
  // The same through an async Kore fallback of an async agent, whose answer comes in a callback.
  remember_later: {
    ...SB,
    agentId: 'echo_v1+fail=503',
    mode: 'async',
    webhookSecret: 'whsec_remember_later_7f3e',
    retries: 0,
    outputSchema: MEMORY_OUT,
    fallback: 'memory_async',
  },
  memory_async: { protocol: 'kore', url: `${KORE}/memory_v1`, headers: KORE_AUTH, async: true, waitMs: 15_000 },
};

type Result = Awaited<ReturnType<Client['callTool']>>;
const agentMeta = (r: Result) => r._meta?.['switchboard/agent'];
const errorMeta = (r: Result) => r._meta?.['switchboard/error'];
const textOf = (r: Result) => (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');
const secondBlock = (r: Result) => (r.content as Array<{ text?: string }>)[1]?.text;

describe('what a fallback is held to', () => {
  let hub: RunningHub;
  let client: Client;
  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });

  beforeAll(async () => {
    ({ hub } = await startAgentHub(AGENTS));
    client = await bearerClient(hub.url, hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  it("a fallback without an inputSchema takes the called tool's arguments (the README's example answers)", async () => {
    const r = await call('agent__support_triage', { ticket_body: 'I was charged twice' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ category: 'billing' });
    expect(agentMeta(r)).toMatchObject({ answeredBy: 'support_triage_basic', fallbackFrom: [{ agent: 'support_triage', reason: 'status' }] });
  });

  it("a fallback whose own inputSchema refuses the arguments is skipped, and the error is the called agent's, not invalid_params", async () => {
    const r = await call('agent__picky_primary', TICKET);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /^agent picky_primary answered 503.*\nfallback agent picky does not take these arguments: .*unknown arguments "ticket_subject", "ticket_body"/s,
    );
    expect(errorMeta(r)).toEqual({ code: 'source_unavailable', retryable: true });
  });

  it("a fallback's answer is held to its own minConfidence, not the called agent's", async () => {
    const r = await call('agent__unsure', TICKET);
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toBeUndefined();
    expect(JSON.parse(textOf(r).split('\n')[0]!)).toMatchObject({ category: 'billing', confidence_score: 0.1 });
    expect(agentMeta(r)).toMatchObject({
      answeredBy: 'fb_plain',
      fallbackFrom: [
        { agent: 'unsure', reason: 'invalid_output' },
        { agent: 'fb_strict', reason: 'invalid_output' },
      ],
    });
    expect(secondBlock(r)).toBe(
      'Answered by fallback agent fb_plain because agent unsure: the confidence at $.confidence_score is 0.1, below 0.7; agent fb_strict: the confidence at $.confidence_score is 0.1, below 0.5',
    );
  });

  it("a fallback's answer must still match the called tool's output schema", async () => {
    const r = await call('agent__shaped', { input: 'hello' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/\nfallback agent echo_plain: the output does not match the output schema/);
  });

  it("a Kore fallback's JSON text is read as the object the called tool's schema asks, and returned as its structuredContent", async () => {
    const r = await call('agent__remember', { input: 'my order is late' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ turn: 1, reply: 'noted: my order is late' });
    expect(JSON.parse(textOf(r).split('\n')[0]!)).toEqual(r.structuredContent);
    expect(agentMeta(r)).toMatchObject({ answeredBy: 'memory_text' });
  });

  it("a Kore fallback's text that is not a JSON object is still refused for the called tool's schema", async () => {
    const r = await call('agent__tell', { input: 'a lighthouse' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('fallback agent story_text: the output is not a JSON object, as the output schema asks');
  });

  it("an async Kore fallback's JSON text, in its callback, is read for the called tool's schema too", async () => {
    const r = await call('agent__remember_later', { input: 'call me back' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ turn: 1, reply: 'noted: call me back' });
    expect(agentMeta(r)).toMatchObject({ answeredBy: 'memory_async' });
  });
});
