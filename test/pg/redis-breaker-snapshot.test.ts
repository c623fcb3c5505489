/**
 * A circuit shared on Redis shows the same on every replica, including one that never called the
 * integration or agent (issue 13: "the `switchboard_breaker_state` gauge show[s] the shared
 * state"; `switchboard_agent_breaker_state` and `agents list`, which reads it, the same).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { SB, TICKET, TRIAGE_IN } from '../agents/support.js';
import { redisSkip, startRedis, type TestRedis, testPrefix } from '../helpers/redis.js';
import { type Pair, type PairHub, startPair } from './redis-hub-pair.js';

async function callAgent(h: PairHub, token: string): Promise<{ isError: boolean; text: string }> {
  const c = new Client({ name: 'redis-breaker-snapshot', version: '1.0.0' });
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

describe.skipIf(redisSkip !== undefined)('two hubs on one Redis: an agent circuit opened through A shows on B', () => {
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

  it("B's switchboard_agent_breaker_state says open (2) before B ever calls the agent", async () => {
    expect(await gauge(pair.b)).toBe('0');
    const { token } = await pair.a.hub.tokens.create({ user: 'alice' });
    for (let i = 0; i < 2; i++) expect((await callAgent(pair.a, token)).isError).toBe(true);
    expect(await gauge(pair.a)).toBe('2');
    expect(await gauge(pair.b)).toBe('2');
  });
});
