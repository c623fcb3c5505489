/**
 * Some agent platforms send a task's `output` as the JSON string of the object rather than the
 * object itself. With an `outputSchema` the hub reads that string as the object it spells, in every
 * mode (sync, the async callback, a stream's `complete`), and returns it as structuredContent;
 * without one the string stays the result's text. A real hub on loopback hosting the sandbox
 * marketplace, whose `output=json_text` knob answers that way, and a real client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { bearerClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { SB, startAgentHub, TICKET, TRIAGE_IN, TRIAGE_OUT } from './support.js';

const TRIAGE_TEXT = 'support_triage_v4+output=json_text';

const AGENTS = {
  triage_sync: { ...SB, agentId: TRIAGE_TEXT, inputSchema: TRIAGE_IN, outputSchema: TRIAGE_OUT, retries: 0 },
  triage_async: {
    ...SB,
    agentId: TRIAGE_TEXT,
    mode: 'async',
    webhookSecret: 'whsec_json_text_3c9a',
    inputSchema: TRIAGE_IN,
    outputSchema: TRIAGE_OUT,
    retries: 0,
  },
  triage_stream: { ...SB, agentId: `${TRIAGE_TEXT}+token-ms=0`, mode: 'stream', inputSchema: TRIAGE_IN, outputSchema: TRIAGE_OUT, retries: 0 },
  // Read as an object, the output still has to match the schema: echo's is not a triage.
  echo_shaped: { ...SB, agentId: 'echo_v1+output=json_text', outputSchema: TRIAGE_OUT, retries: 0 },
  // No schema: the string is the answer, as sent.
  triage_plain: { ...SB, agentId: TRIAGE_TEXT, inputSchema: TRIAGE_IN, retries: 0 },
};

type Result = Awaited<ReturnType<Client['callTool']>>;
const textOf = (r: Result) => (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');

describe("an agent's output sent as its JSON string", () => {
  let hub: RunningHub;
  let client: Client;
  const call = (name: string) => client.callTool({ name, arguments: name === 'agent__echo_shaped' ? { input: 'hi' } : TICKET });

  beforeAll(async () => {
    ({ hub } = await startAgentHub(AGENTS));
    client = await bearerClient(hub.url, hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await hub?.stop();
  });

  for (const mode of ['sync', 'async', 'stream'] as const) {
    it(`is read as the object the output schema asks for (${mode})`, async () => {
      const r = await call(`agent__triage_${mode}`);
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(r.structuredContent).toMatchObject({ category: 'billing', confidence_score: expect.any(Number) });
      expect(JSON.parse(textOf(r))).toEqual(r.structuredContent);
    });
  }

  it('still has to match the schema once read', async () => {
    const r = await call('agent__echo_shaped');
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/the output does not match the output schema/);
  });

  it('stays text when the agent declares no output schema', async () => {
    const r = await call('agent__triage_plain');
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toBeUndefined();
    // The string as sent: JSON text of the object, parsed here only to compare.
    expect(JSON.parse(textOf(r))).toMatchObject({ category: 'billing' });
  });
});
