/**
 * The hub's two status tools answer an id they do not know (never issued, or another user's) with
 * an isError result that carries the hub's code, as every failed call does (README, HTTP routes):
 * `_meta["switchboard/error"]` = `{ code: "not_found", retryable: false }`. A real hub on loopback
 * with the sandbox integration (whose writes list `queue__job_status`) and an async sandbox agent
 * (which lists `agent__task_status`); the v2 SDK client on 2026-07-28 and the 1.x SDK client on a
 * 2025-11-25 session.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const AGENTS = {
  later: {
    protocol: 'upagents',
    baseUrl: '/sandbox/marketplace/v1',
    apiKey: 'ua_sandbox_local',
    agentId: 'echo_v1',
    mode: 'async',
    webhookSecret: 'whsec_status_meta_9d0e',
  },
};
const NOT_FOUND = { code: 'not_found', retryable: false };

describe('the status tools for an id nobody issued to the caller', () => {
  let hub: RunningHub;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it.each(CLIENT_KINDS.filter((k) => k !== 'v2-legacy'))('%s: agent__task_status and queue__job_status carry not_found', async (kind) => {
    const client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    try {
      const task = await client.callTool('agent__task_status', { taskId: 'at_AAAAAAAAAAAAAAAAAAAAAA' });
      expect(task).toMatchObject({
        isError: true,
        errorCode: 'not_found',
        content: [{ type: 'text', text: 'No agent task at_AAAAAAAAAAAAAAAAAAAAAA of yours is known.' }],
      });
      const job = await client.callTool('queue__job_status', { jobId: 'job_AAAAAAAAAAAAAAAAAAAAAA' });
      expect(job).toMatchObject({
        isError: true,
        errorCode: 'not_found',
        content: [{ type: 'text', text: 'No job job_AAAAAAAAAAAAAAAAAAAAAA of yours is known.' }],
      });
    } finally {
      await client.close();
    }
  });

  it('v1: the whole code object, not retryable', async () => {
    const v1 = new Client({ name: 'status-meta', version: '1.0.0' });
    await v1.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      const task = await v1.callTool({ name: 'agent__task_status', arguments: { taskId: 'at_BBBBBBBBBBBBBBBBBBBBBB' } });
      expect(task._meta?.['switchboard/error']).toEqual(NOT_FOUND);
      const job = await v1.callTool({ name: 'queue__job_status', arguments: { jobId: 'job_BBBBBBBBBBBBBBBBBBBBBB' } });
      expect(job._meta?.['switchboard/error']).toEqual(NOT_FOUND);
    } finally {
      await v1.close();
    }
  });
});
