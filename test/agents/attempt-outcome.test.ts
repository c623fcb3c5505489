/**
 * Each HTTP attempt at an agent is counted in `switchboard_agent_attempt_duration_seconds` by how
 * it ended: a request the hub could not make from its config is `config`, not a caller's cancel.
 */
import { describe, expect, it } from 'vitest';
import type { AgentAdapter } from '../../src/agents/adapter.js';
import { AgentMetrics } from '../../src/agents/metrics.js';
import { AgentCallError } from '../../src/agents/policy.js';
import { manualClock } from '../../src/clock.js';
import { HubMetrics } from '../../src/observability/metrics.js';

describe('attempt outcomes', () => {
  it('labels a request never made for its config config, and a cancel cancelled', async () => {
    const metrics = new HubMetrics();
    const m = new AgentMetrics({ metrics, clock: manualClock(0), names: ['triage'], breakers: () => [] });
    const failing = (err: unknown): AgentAdapter => ({ protocol: 'upagents', call: async () => Promise.reject(err) });
    const unbuilt = m.meter('triage', failing(new AgentCallError('triage', 'config', 'nothing was sent')));
    const cancelled = m.meter('triage', failing(new DOMException('aborted', 'AbortError')));
    const req = { input: {}, sessionId: 's', signal: new AbortController().signal };
    await expect(unbuilt.call(req)).rejects.toBeInstanceOf(AgentCallError);
    await expect(cancelled.call(req)).rejects.toThrow('aborted');
    const text = await metrics.registry.metrics();
    expect(text).toContain('switchboard_agent_attempt_duration_seconds_count{agent="triage",outcome="config"} 1');
    expect(text).toContain('switchboard_agent_attempt_duration_seconds_count{agent="triage",outcome="cancelled"} 1');
  });
});
