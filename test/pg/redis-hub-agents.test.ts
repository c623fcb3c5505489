/**
 * The agents' circuits on Redis (issue 13, scope 2): failures of an agent called through hub A
 * open its circuit on hub B too, so B refuses the call without sending it, and B's
 * `switchboard_agent_breaker_state` (which `agents list` reads) says so before B calls the agent.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';
import { SB, TICKET, TRIAGE_IN } from '../agents/support.js';
import { type Pair, type PairHub, startPair } from './redis-hub-pair.js';

async function call(h: PairHub, token: string): Promise<{ isError: boolean; text: string }> {
  const c = new Client({ name: 'redis-hub-agents', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    const r = await c.callTool({ name: 'agent__broken', arguments: TICKET });
    return { isError: r.isError === true, text: (r.content as Array<{ text: string }>).map((x) => x.text).join('\n') };
  } finally {
    await c.close();
  }
}

const gauge = async (h: PairHub): Promise<string | undefined> =>
  /^switchboard_agent_breaker_state\{agent="broken"\} (\d)$/m.exec(await (await fetch(`${h.base}/metrics`)).text())?.[1];

describe.skipIf(redisSkip !== undefined)('two hubs on one Redis: the agents share their circuits', () => {
  let redis: TestRedis;
  let pair: Pair;

  beforeAll(async () => {
    redis = await startRedis();
    pair = await startPair(
      {
        integrations: { sandbox: {} },
        agents: { broken: { ...SB, agentId: 'support_triage_v4', inputSchema: TRIAGE_IN, retries: 0, headers: { 'x-sandbox-fail': '503' } } },
        redis: { url: redis.url, keyPrefix: testPrefix() },
      },
      { hosted: [hostedSandbox()], agents: { breakers: { threshold: 2, coolDownMs: 600_000 } } },
    );
  }, 90_000);

  afterAll(async () => {
    await pair?.close();
    await redis?.stop();
  });

  it('two 503s through A open the circuit; B answers "paused" at once, and B\'s /readyz names it open', async () => {
    expect(await gauge(pair.b)).toBe('0');
    const { token } = await pair.a.hub.tokens.create({ user: 'alice' });
    for (let i = 0; i < 2; i++) expect(await call(pair.a, token)).toMatchObject({ isError: true, text: expect.not.stringMatching(/paused/) });
    // Shown open (2) on B before B ever called the agent: its gauge reads the shared circuit.
    expect(await gauge(pair.a)).toBe('2');
    expect(await gauge(pair.b)).toBe('2');
    expect(await call(pair.b, token)).toMatchObject({ isError: true, text: expect.stringMatching(/calls are paused/) });
    // What B shows of its agents' circuits is the shared one: /readyz names it open there too.
    expect((await pair.b.hub.agents.circuits()).find((c) => c.integration === 'broken')?.state).toBe('open');
    const ready = (await (await fetch(`${pair.b.base}/readyz`)).json()) as { status: string; agents?: Record<string, { state: string }> };
    expect(ready).toMatchObject({ status: 'degraded', agents: { broken: { state: 'open' } } });
  });
});
