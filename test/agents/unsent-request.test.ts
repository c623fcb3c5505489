/**
 * A request the hub cannot make, because a key holds a character HTTP cannot carry (start-up
 * refuses such a config; this is the adapter's own answer, should one reach it): nothing is sent,
 * the error says so and names where the key is configured, never shows it, is not retried and is
 * not counted against the agent's circuit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { upagentsAgentSchema } from '../../src/definition/agents.js';
import { AgentCallError, codeOf, runWithPolicy } from '../../src/agents/policy.js';
import { UpagentsAdapter } from '../../src/agents/upagents.js';
import { createProviderClient } from '../../src/providers/client.js';
import { createNodeFetch } from '../../src/providers/node-fetch.js';
import { recordingPolicyDeps } from './support.js';

const SECRET = 'ua_live_abc123_never_shown';

describe('a key HTTP cannot carry', () => {
  let server: Server;
  let base: string;
  let received = 0;
  const clock = manualClock(Date.UTC(2026, 0, 1));

  beforeAll(async () => {
    server = createServer((req, res) => {
      received++;
      req.resume();
      // /cut answers part of its body and closes: the request was sent, and the agent may hold the task.
      if (req.url?.includes('/cut/')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"status":"comp');
        res.socket?.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"completed","output":{"reply":"hi"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['a zero-width space', `${SECRET}\u200b`],
    ['a line break', `${SECRET}\nx`],
  ])('with %s: nothing sent, a config error naming the entry, no retry, no breaker verdict', async (_what, apiKey) => {
    const parsed = upagentsAgentSchema.parse({ protocol: 'upagents', baseUrl: base, agentId: 'triage_v4', apiKey: SECRET, retries: 3 });
    const config = { ...parsed, apiKey };
    const adapter = new UpagentsAdapter({ name: 'triage', config, baseUrl: () => base, provider: createProviderClient({ clock }), clock });
    const { deps, waits } = recordingPolicyDeps(clock);
    const before = received;
    for (let i = 0; i < 6; i++) {
      const err = await runWithPolicy(
        'triage',
        config.retries,
        adapter,
        { input: { input: 'hi' }, sessionId: 's', signal: new AbortController().signal },
        deps,
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AgentCallError);
      const f = err as AgentCallError;
      expect(f.reason).toBe('config');
      expect(codeOf(f)).toBe('config_invalid');
      expect(f.message).toBe(
        'the hub could not make the request to agent triage, so nothing was sent: a header holds a character HTTP cannot carry; check the key and headers configured for agents.triage',
      );
    }
    expect(received - before).toBe(0);
    expect(waits).toEqual([]);
    expect(deps.breakers.snapshot().find((c) => c.integration === 'triage') ?? { state: 'closed', failures: 0 }).toMatchObject({
      state: 'closed',
      failures: 0,
    });
  });
  it('an answer cut short after its headers is not taken for a request never made: it was sent', async () => {
    const cutBase = `${base}/cut`;
    const config = upagentsAgentSchema.parse({ protocol: 'upagents', baseUrl: cutBase, agentId: 'triage_v4', apiKey: SECRET, retries: 0 });
    // The hub's own fetch (src/agents/wire.ts), whose errors for a body cut short carry no cause.
    const provider = createProviderClient({ clock, fetch: createNodeFetch({ redirects: 'manual' }) });
    const adapter = new UpagentsAdapter({ name: 'triage', config, baseUrl: () => cutBase, provider, clock });
    const before = received;
    const err = await adapter.call({ input: { input: 'hi' }, sessionId: 's', signal: new AbortController().signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(received - before).toBe(1);
    expect(err).not.toBeInstanceOf(AgentCallError);
    expect((err as Error).message).toMatch(/broke after the request was sent|not JSON|ended/);
  });
});
