import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

/**
 * A task's words at rest: a failed task's status message quotes its failure (an agent's reason,
 * which the agent task store keeps sealed; a tool's isError text) and a protocol error its
 * message. Both are sealed in the task record like its result, and read back in the clear by
 * the task's owner. A real hub on loopback, the sandbox marketplace's failing agent and the
 * conformance fixture's failing jobs, 2026-07-28 requests over fetch.
 */

const FAILING = {
  protocol: 'upagents',
  baseUrl: '/sandbox/marketplace/v1',
  apiKey: 'ua_sandbox_local',
  retries: 0,
  mode: 'async',
  webhookSecret: 'whsec_sealed_words_7b2e',
  agentId: 'echo_v1+callback=failed',
  waitMs: 150,
} as const;

describe('task records at rest', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: { failing: FAILING }, fixtures: { conformance: true } });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const row = (taskId: string) =>
    hub.hub.db.prepare('SELECT status, status_message AS message, error, result FROM mcp_tasks WHERE id = ?').get(taskId) as {
      status: string;
      message: string | null;
      error: string | null;
      result: string | null;
    };

  it('keeps a failed task’s status message and error sealed, and shows them to its owner', async () => {
    const c = taskClient(hub.url, hub.token);
    const agentTask = String((await c.tool('agent__failing', { input: 'private words' }))['taskId']);
    const toolError = String((await c.tool('failing_job'))['taskId']);
    const protocolError = String((await c.tool('protocol_error_job'))['taskId']);

    const agentView = await c.until(agentTask, ['completed', 'failed', 'cancelled']);
    expect(agentView['statusMessage']).toContain('tool_unavailable: a tool the agent needs is down');
    const toolView = await c.until(toolError, ['completed', 'failed', 'cancelled']);
    expect(toolView).toMatchObject({ status: 'completed', result: { isError: true } });
    const protocolView = await c.until(protocolError, ['completed', 'failed', 'cancelled']);
    expect(protocolView).toMatchObject({ status: 'failed', error: { code: -32603, message: 'the fixture job broke down' } });

    const stored = [row(agentTask), row(toolError), row(protocolError)];
    expect(stored.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    for (const r of stored) {
      const clear = `${r.message ?? ''} ${r.error ?? ''} ${r.result ?? ''}`;
      expect(clear).not.toContain('tool_unavailable');
      expect(clear).not.toContain('the fixture always fails');
      expect(clear).not.toContain('broke down');
    }
    expect(stored[0]!.message).toMatch(/^sbv1\./);
    expect(stored[1]!.message).toMatch(/^sbv1\./);
    expect(JSON.parse(stored[2]!.error!)).toMatchObject({ code: -32603 });

    // Read back again from the record (a finished task answers from it), words intact.
    expect(await c.ok('tasks/get', { taskId: protocolError })).toMatchObject({ error: { code: -32603, message: 'the fixture job broke down' } });
    expect((await c.ok('tasks/get', { taskId: agentTask }))['statusMessage']).toBe(agentView['statusMessage']);
  });
});
