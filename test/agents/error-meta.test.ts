/**
 * A failed agent call carries the hub's error code as every failed call does (README, HTTP
 * routes): `_meta["switchboard/error"]` = `{ code, retryable }`, the code of the failure that
 * ended the call (the last agent of the chain tried) and that code's retryability from the error
 * table (docs/errors.md). A real hub on loopback, the sandbox marketplace's failure injection,
 * and the v2 SDK client.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultOf } from '../../src/agents/tasks/call.js';
import { EXPIRED_ERROR, newTaskId } from '../../src/agents/tasks/types.js';
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
  // Async: the platform takes the task, and its callback's output fails the schema.
  bent_async: {
    ...SB,
    mode: 'async',
    webhookSecret: 'whsec_error_meta_2f3a',
    agentId: 'echo_v1+output=invalid',
    outputSchema: { type: 'object', properties: { reply: { type: 'string' } }, required: ['reply'] },
    waitMs: 15_000,
  },
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

  it('invalid output (sync and async alike), and an agent-level error, beside the failures in switchboard/agent', async () => {
    const unsure = await failed('unsure', TICKET);
    expect(unsure).toMatchObject({
      'switchboard/agent': { agent: 'unsure', failures: [{ agent: 'unsure', reason: 'invalid_output' }] },
      'switchboard/error': { code: 'downstream_error', retryable: false },
    });
    // Async, the output checked when the callback lands: the same reason a sync call gives.
    const bent = await failed('bent_async');
    expect(bent).toMatchObject({
      'switchboard/agent': { agent: 'bent_async', failures: [{ agent: 'bent_async', reason: 'invalid_output', code: 'downstream_error' }] },
      'switchboard/error': { code: 'downstream_error', retryable: false },
    });
    const overflow = await failed('overflow');
    expect(overflow).toMatchObject({
      'switchboard/agent': { failures: [{ agent: 'overflow', reason: 'agent_error', detail: 'context_overflow' }] },
      'switchboard/error': { code: 'downstream_error', retryable: false },
    });
  });

  it('an async task that expired unanswered reads as its taker’s timeout, as the metrics count it', () => {
    const t = { id: newTaskId(), owner: { tenant: 't', user: 'alice' }, agent: 'slow_async', answeredBy: 'slow_async', remoteTaskId: 'task_1' };
    const at = { ownerProcess: 'p', createdAt: 0, updatedAt: 0, expiresAt: 0, result: undefined, failures: [] };
    const r = resultOf({ ...t, ...at, state: 'timed_out', error: EXPIRED_ERROR }, false);
    expect(r._meta).toMatchObject({
      'switchboard/agent': { failures: [{ agent: 'slow_async', reason: 'timeout', code: 'provider_timeout' }] },
      'switchboard/error': { code: 'provider_timeout', retryable: true },
    });
  });
});
