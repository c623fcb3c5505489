/**
 * What a caller learns from an agent's HTTP refusal once the retries are spent
 * (`_meta["switchboard/error"]`, from the error table): a 5xx or 429 is the agent unavailable for
 * now (`source_unavailable`, retryable), also when its Retry-After asks for a longer wait than the
 * hub's; a 401 or 403 is the hub's credentials refused (`provider_unauthorized`, not retryable),
 * and its message says so; any other 4xx stays `downstream_error`. A real hub on loopback, the
 * sandbox marketplace's failure injection, the v2 SDK client.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { SB, startAgentHub, type AgentHub } from './support.js';

const AGENTS = {
  down: { ...SB, agentId: 'echo_v1+fail=503+fail-times=9', retries: 2 },
  throttled: { ...SB, agentId: 'echo_v1+fail=429', retries: 1 },
  // An hour: more than the hub waits out (maxRetryAfterMs), so the 429 is the answer at once.
  throttled_long: { ...SB, agentId: 'echo_v1+fail=429+retry-after=3600', retries: 2 },
  wrong_key: { ...SB, apiKey: 'ua_not_the_key', agentId: 'echo_v1', retries: 2 },
  forbidden: { ...SB, agentId: 'echo_v1+fail=403' },
  refused: { ...SB, agentId: 'echo_v1+fail=400' },
  // Async: the submission itself is refused, no task is taken.
  down_async: { ...SB, mode: 'async', webhookSecret: 'whsec_status_codes_91be', agentId: 'echo_v1+fail=502', retries: 1 },
  // The last of the chain decides: a refusal of the credentials after an unavailable agent.
  down_then_wrong_key: { ...SB, agentId: 'echo_v1+fail=503+fail-key=dtwk', retries: 0, fallback: 'wrong_key' },
};

describe('the error code of an agent that refused the call', () => {
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

  const failed = async (agent: string) => {
    const r = await client.callTool({ name: `agent__${agent}`, arguments: { input: 'hi' } });
    expect(r.isError).toBe(true);
    return { meta: r._meta ?? {}, text: (r.content as Array<{ text: string }>)[0]!.text };
  };

  it.each([
    ['down', 'answered 503'],
    ['throttled', 'answered 429'],
    ['throttled_long', 'more than'],
    ['down_async', 'answered 502'],
  ])('agent__%s: unavailable for now, retryable', async (agent, said) => {
    const { meta, text } = await failed(agent);
    expect(meta['switchboard/error']).toEqual({ code: 'source_unavailable', retryable: true });
    expect(meta['switchboard/agent']).toMatchObject({ failures: [{ agent, reason: 'status', code: 'source_unavailable' }] });
    expect(text).toContain(said);
  });

  it.each([
    ['wrong_key', 401],
    ['forbidden', 403],
  ])("agent__%s: the hub's credentials refused, not retryable, and said so", async (agent, status) => {
    const { meta, text } = await failed(agent);
    expect(meta['switchboard/error']).toEqual({ code: 'provider_unauthorized', retryable: false });
    expect(text).toContain(`agent ${agent} answered ${status}`);
    expect(text).toContain(`; agent ${agent} refused the hub's credentials: check the key configured for agents.${agent}`);
    expect(text).not.toContain('ua_not_the_key');
  });

  it('another 4xx stays downstream_error; in a chain the last failure decides, each failure keeps its own code', async () => {
    expect((await failed('refused')).meta['switchboard/error']).toEqual({ code: 'downstream_error', retryable: false });
    const { meta } = await failed('down_then_wrong_key');
    expect(meta).toMatchObject({
      'switchboard/agent': {
        failures: [
          { agent: 'down_then_wrong_key', reason: 'status', code: 'source_unavailable' },
          { agent: 'wrong_key', reason: 'status', code: 'provider_unauthorized' },
        ],
      },
      'switchboard/error': { code: 'provider_unauthorized', retryable: false },
    });
  });
});
