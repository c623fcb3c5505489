/**
 * Kore's asynchronous mode (seed 003, "Asynchronous Integration") through the hub: the proxy
 * request carries the hub's callback URL, the agent answers at once that it is busy, and its whole
 * Kore response comes later to `/agents/callback/:taskId`. Real MCP clients of both eras, the
 * hub's hosted sandbox Kore agents, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { signedCallback } from './support.js';

const AUTH = { authorization: 'Bearer kore_sandbox_local' };
const KORE = '/sandbox/marketplace/kore/agents';
const SECRET = 'whsec_kore_signed_51aa';
const story = (topic: string) => `Once there was ${topic}. It travelled far. And it came home.`;
const AGENTS = {
  // Unsigned callbacks: the 128-bit URL naming one task is the credential (seed 003's callback URL).
  kore_async: { protocol: 'kore', url: `${KORE}/storyteller_v1`, headers: AUTH, async: true, waitMs: 15_000 },
  kore_late: { protocol: 'kore', url: `${KORE}/storyteller_v1+callback-ms=400`, headers: AUTH, async: true, waitMs: 50 },
  // With a webhookSecret, a callback must be signed: the sandbox's unsigned one is refused.
  kore_signed: { protocol: 'kore', url: `${KORE}/storyteller_v1`, headers: AUTH, async: true, waitMs: 50, webhookSecret: SECRET },
};

describe('Kore agents in asynchronous mode', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} }, agents: AGENTS }, { agents: { sleep: async () => {}, tasks: { pollMs: 50 } } });
  });
  afterAll(async () => {
    await hub?.stop();
  });
  const callbackUrl = (id: string) => `${hub.url.replace(/\/mcp$/, '')}/agents/callback/${id}`;
  const remoteOf = (id: string) => hub.hub.db.prepare('SELECT remote_task_id FROM agent_tasks WHERE id = ?').pluck().get(id) as string | null;

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });
    const state = async (taskId: string) => (await client.callTool('agent__task_status', { taskId })).structuredContent as { state: string; result?: unknown };

    it('answers through the callback within the wait', async () => {
      const r = await client.callTool('agent__kore_async', { input: 'tell me a story' });
      expect(r.isError).toBe(false);
      expect(textOf(r)).toBe(story('tell me a story'));
      // Through a callback, not a sync answer: the task is stored, bound to the agent's message id.
      const id = hub.hub.db.prepare("SELECT id FROM agent_tasks WHERE agent = 'kore_async' ORDER BY created_at DESC LIMIT 1").pluck().get() as string;
      expect(remoteOf(id)).toMatch(/^msg-/);
      expect((await state(id)).state).toBe('completed');
    });

    it('past the wait: the handle, then agent__task_status gives the answer the callback brought', async () => {
      const r = await client.callTool('agent__kore_late', { input: 'a story, later' });
      const { taskId, state: s } = r.structuredContent as { taskId: string; state: string };
      expect(s).toBe('running');
      expect(remoteOf(taskId)).toMatch(/^msg-/);
      const done = await eventually(async () => {
        const st = await state(taskId);
        return st.state === 'completed' ? st : undefined;
      });
      expect(done.result).toBe(story('a story, later'));
    });

    it('with a webhookSecret an unsigned callback is refused; a signed one naming its message completes the task', async () => {
      const r = await client.callTool('agent__kore_signed', { input: 'signed story' });
      const { taskId } = r.structuredContent as { taskId: string };
      const remote = await eventually(() => remoteOf(taskId) ?? undefined);
      const body = JSON.stringify({ messageId: remote, output: [{ type: 'text', content: 'signed answer' }], sessionInfo: { status: 'idle' } });
      const unsigned = await fetch(callbackUrl(taskId), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(unsigned.status).toBe(401);
      expect((await state(taskId)).state).toBe('running');
      const other = JSON.stringify({ messageId: 'msg-not-this-task', output: [{ type: 'text', content: 'crossed' }] });
      const crossed = await fetch(callbackUrl(taskId), { method: 'POST', headers: signedCallback(SECRET, other), body: other });
      expect(crossed.status).toBe(400);
      expect((await state(taskId)).state).toBe('running');
      const signed = await fetch(callbackUrl(taskId), { method: 'POST', headers: signedCallback(SECRET, body), body });
      expect(signed.status).toBe(200);
      const done = await eventually(async () => {
        const st = await state(taskId);
        return st.state === 'completed' ? st : undefined;
      });
      expect(done.result).toBe('signed answer');
    });
  });
});
