/**
 * A queued write run as an MCP Task while its integration's circuit is open: the worker gives the
 * job back unsent until the circuit retries, and the handle of a direct call and queue__job_status
 * say so, with when. The task said only "queued (job …)" for the whole outage, as if the queue
 * were slow. A real hub on loopback with the hub's own breakers, opened as five 503s open them,
 * on an injected clock; 2026-07-28 requests over fetch.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { taskClient } from './tasks-helpers.js';

const create = {
  description: 'Creates a note',
  method: 'POST',
  path: '/notes',
  input: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
};

describe('a queued write held by an open circuit, as an MCP Task', () => {
  const clock = manualClock(Date.UTC(2026, 5, 1, 12));
  let api: Server;
  let sent = 0;
  let hub: RunningHub;

  beforeAll(async () => {
    api = createServer((req, res) => {
      sent++;
      req.resume();
      req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"n1"}'));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    hub = await startHub(
      { integrations: { notes: { type: 'custom', title: 'Notes', apiBaseUrl, auth: { type: 'apiKey', header: 'x-api-key', value: 'k' }, tools: { create } } } },
      { clock, breakers: { threshold: 5, coolDownMs: 30_000 } },
    );
  });
  afterAll(async () => {
    await hub?.stop();
    await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  });

  it('says the circuit is open and when it retries, as queue__job_status does', async () => {
    for (let i = 0; i < 5; i++) hub.hub.integrations.breakers.record('notes', { kind: 'status', status: 503 });
    const retryAt = new Date(clock.now() + 30_000).toISOString();
    const c = taskClient(hub.url, hub.token);
    const taskId = String((await c.tool('notes__create', { text: 'during the outage' }))['taskId']);
    const row = hub.hub.db.prepare('SELECT backing_id AS id FROM mcp_tasks WHERE id = ?').get(taskId) as { id: string };
    const status = (await c.tool('queue__job_status', { jobId: row.id }))['structuredContent'] as { state: string; circuit: { message: string } };
    expect(status).toMatchObject({ state: 'queued', circuit: { message: expect.stringContaining(retryAt) } });

    const view = await c.ok('tasks/get', { taskId });
    expect(view).toMatchObject({ status: 'working', statusMessage: `queued (job ${row.id}); ${status.circuit.message}` });
    expect(sent).toBe(0);

    // Closed again (a probe's success), the task says nothing of it.
    hub.hub.integrations.breakers.record('notes', { kind: 'status', status: 201 });
    const after = await c.ok('tasks/get', { taskId });
    expect(String(after['statusMessage'] ?? '')).not.toContain('circuit');
  });
});
