/**
 * A failed agent call carries the hub's error code as every failed call does (README, HTTP
 * routes): `_meta["switchboard/error"]` = `{ code, retryable }`, the code of the failure that
 * ended the call (the last agent of the chain tried) and that code's retryability from the error
 * table (docs/errors.md). A real hub on loopback, the sandbox marketplace's failure injection,
 * and the v2 SDK client.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { FAILING_AGENTS, SB, startAgentHub, TICKET, type AgentHub } from './support.js';

const AGENTS = {
  ...FAILING_AGENTS,
  slow: { ...SB, agentId: 'echo_v1+latency-ms=2000', timeoutMs: 100, retries: 0 },
  refused: { ...SB, agentId: 'echo_v1+fail=400' },
  // Nothing listens on port 1 of loopback: the connection is refused, before any request went out.
  gone: { ...SB, baseUrl: 'http://127.0.0.1:1/v1', agentId: 'echo_v1', retries: 0 },
  // The first fails for a reason that is retryable, the fallback for one that is not: the last decides.
  slow_then_refused: { ...SB, agentId: 'echo_v1+latency-ms=2000', timeoutMs: 100, retries: 0, fallback: 'refused' },
};

describe('the error code of a failed agent call', () => {
  let h: AgentHub;
  let client: Client;

  beforeAll(async () => {
    h = await startAgentHub(AGENTS);
    client = await bearerClient(h.hub.url, h.hub.token);
  });
  afterAll(async () => {
    await client?.close();
    await h?.hub.stop();
  });

  const failed = async (agent: string, args: Record<string, unknown> = { input: 'hi' }) => {
    const r = await client.callTool({ name: `agent__${agent}`, arguments: args });
    expect(r.isError).toBe(true);
    return r._meta ?? {};
  };

  it.each([
    ['slow', { code: 'provider_timeout', retryable: true }],
    ['refused', { code: 'downstream_error', retryable: false }],
    ['gone', { code: 'provider_unreachable', retryable: true }],
    ['slow_then_refused', { code: 'downstream_error', retryable: false }],
  ])('agent__%s: %o', async (agent, error) => {
    expect((await failed(agent))['switchboard/error']).toEqual(error);
  });

  it('invalid output, and an agent-level error, beside the failures in switchboard/agent', async () => {
    const unsure = await failed('unsure', TICKET);
    expect(unsure).toMatchObject({
      'switchboard/agent': { agent: 'unsure', failures: [{ agent: 'unsure', reason: 'invalid_output' }] },
      'switchboard/error': { code: 'downstream_error', retryable: false },
    });
    const overflow = await failed('overflow');
    expect(overflow).toMatchObject({
      'switchboard/agent': { failures: [{ agent: 'overflow', reason: 'agent_error', detail: 'context_overflow' }] },
      'switchboard/error': { code: 'downstream_error', retryable: false },
    });
  });
});
