/**
 * Async agents end to end (issue 10): a real hub on loopback hosting the sandbox marketplace,
 * real MCP clients of both protocol eras (and the 1.x SDK client), callbacks signed as seed 000
 * signs them and sent over real HTTP to `/agents/callback/:taskId`. The hub's clock is injected
 * (real time plus a skew the tests move) so windows and expiry are read off it, not slept out.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { rawInitialize, sessionHeaders } from '../helpers/raw-mcp.js';

const SECRET = 'whsec_async_sandbox_3b1f';
const TTL_MS = 60_000;
const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', mode: 'async', webhookSecret: SECRET, retries: 0 } as const;
/** The marketplace's diagnostics (`/_callbacks`) take its key, from loopback. */
const MARKET_AUTH = { authorization: `Bearer ${SB.apiKey}` };
const ECHO_OUT = { type: 'object', properties: { reply: { type: 'string' }, session_id: { type: 'string' } }, required: ['reply', 'session_id'] };

const AGENTS = {
  // Failure injection rides in the agent id: header values are secrets the hub scrubs from results.
  quick: { ...SB, agentId: 'echo_v1', outputSchema: ECHO_OUT, waitMs: 15_000 },
  held: { ...SB, agentId: 'echo_v1+callback=hold', outputSchema: ECHO_OUT, waitMs: 150 },
  held_long: { ...SB, agentId: 'echo_v1+callback=hold', waitMs: 20_000 },
  dup: { ...SB, agentId: 'echo_v1+callback-duplicates=3', waitMs: 15_000 },
  failing: { ...SB, agentId: 'echo_v1+callback=failed', waitMs: 15_000 },
  bent: { ...SB, agentId: 'echo_v1+output=invalid', outputSchema: ECHO_OUT, waitMs: 15_000 },
};

let skew = 0;
const clock = { now: () => Date.now() + skew };

function sign(body: string, opts: { secret?: string; ts?: number } = {}): Record<string, string> {
  const ts = opts.ts ?? Math.floor(clock.now() / 1000);
  const sig = createHmac('sha256', opts.secret ?? SECRET)
    .update(`${ts}.${body}`)
    .digest('hex');
  return { 'content-type': 'application/json', 'x-webhook-timestamp': String(ts), 'x-webhook-signature': sig };
}

describe('async agents through the hub', () => {
  let hub: RunningHub;
  let base: string;
  let bob: FaceClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    hub = await startHub(
      { integrations: { sandbox: {} }, agents: AGENTS },
      { clock, log: capturedLogger(logLines), agents: { sleep: async () => {}, tasks: { pollMs: 100, taskTtlMs: TTL_MS } } },
    );
    base = hub.url.replace(/\/mcp$/, '');
    bob = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: (await hub.hub.tokens.create({ user: 'bob' })).token });
  });
  afterAll(async () => {
    await bob?.close();
    await hub?.stop();
  });

  const market = `/sandbox/marketplace/v1`;
  const callbackUrl = (taskId: string) => `${base}/agents/callback/${taskId}`;
  const post = async (url: string, body: string, headers: Record<string, string>) => {
    const r = await fetch(url, { method: 'POST', headers, body });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  /** The platform's id of the held task whose callback goes to this hub task. */
  const heldRemoteId = async (taskId: string): Promise<string> => {
    const r = (await (await fetch(`${base}${market}/_callbacks`, { headers: MARKET_AUTH })).json()) as { held: Array<{ task_id: string; url: string }> };
    return eventually(() => r.held.find((h) => h.url === callbackUrl(taskId))?.task_id, 2_000);
  };
  const release = async (remoteId: string) =>
    (await post(`${base}${market}/_callbacks/${remoteId}/release`, '{}', { 'content-type': 'application/json', ...MARKET_AUTH })).body;
  const agentEvents = async (taskId: string) =>
    (await hub.hub.inbox.inbox.list({ integration: 'agent', limit: 1000 })).filter((e) => e.connection?.id === taskId);

  it('lists agent__task_status, and an async agent with an output schema advertises anyOf its output and the handle', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const { tools } = await c.listPage();
      expect(tools.map((t) => t.name)).toContain('agent__task_status');
      const quick = tools.find((t) => t.name === 'agent__quick') as { outputSchema?: { anyOf?: unknown[] } };
      expect(quick.outputSchema).toEqual({
        type: 'object',
        anyOf: [ECHO_OUT, { type: 'object', properties: { taskId: { type: 'string' }, state: { type: 'string' } }, required: ['taskId', 'state'] }],
      });
    } finally {
      await c.close();
    }
  });

  describe.each(CLIENT_KINDS)('%s client', (kind) => {
    let client: FaceClient;
    beforeAll(async () => {
      client = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    });
    afterAll(async () => {
      await client?.close();
    });

    const handleOf = async (agent: string, input: string) => {
      const r = await client.callTool(`agent__${agent}`, { input });
      expect(r.isError).toBe(false);
      const h = r.structuredContent as { taskId: string; state: string };
      expect(h).toEqual({ taskId: expect.stringMatching(/^at_[A-Za-z0-9_-]{22}$/), state: 'running' });
      expect(textOf(r)).toContain(`agent__task_status with {"taskId":"${h.taskId}"}`);
      return h.taskId;
    };
    const status = async (taskId: string, who: FaceClient = client) => await who.callTool('agent__task_status', { taskId });

    it('completes through a signed callback, with progress while it waits', async () => {
      const progress: string[] = [];
      const r = await client.callTool('agent__quick', { input: `hi from ${kind}` }, { onprogress: (p) => progress.push(p.message ?? '') });
      expect(r.isError).toBe(false);
      expect(r.structuredContent).toMatchObject({ reply: `echo: hi from ${kind}`, confidence: 1 });
      expect(progress[0]).toMatch(/^agent quick took the task at_/);
      const taskId = (progress[0]!.match(/(at_[A-Za-z0-9_-]{22})/) ?? [])[1]!;
      const s = await status(taskId);
      expect(s.structuredContent).toMatchObject({ taskId, state: 'completed', agent: 'quick', result: { reply: `echo: hi from ${kind}` } });
      // Through the webhook path: one inbox event, done, its payload sealed (never the output in the clear).
      const events = await agentEvents(taskId);
      expect(events.map((e) => e.state)).toEqual(['done']);
      expect(events[0]!.payload.toString('utf8')).not.toContain('hi from');
    });

    it('past waitMs answers with the handle; agent__task_status gives the result once the callback lands', async () => {
      const taskId = await handleOf('held', `later ${kind}`);
      expect((await status(taskId)).structuredContent).toMatchObject({ taskId, state: 'running', agent: 'held' });
      expect(await release(await heldRemoteId(taskId))).toEqual({ statuses: [200] });
      const done = await eventually(async () => {
        const s = (await status(taskId)).structuredContent as { state: string; result?: unknown };
        return s.state === 'completed' ? s : undefined;
      });
      expect(done.result).toMatchObject({ reply: `echo: later ${kind}` });
    });

    it('another user cannot read the task: its id answers as unknown', async () => {
      const taskId = await handleOf('held', 'private');
      const r = await status(taskId, bob);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe(`No agent task ${taskId} of yours is known.`);
      expect(r.structuredContent ?? undefined).toBeUndefined();
    });

    it('a forged, a stale or an unsigned callback gets 401 and leaves the task unchanged', async () => {
      const taskId = await handleOf('held', 'guarded');
      const remote = await heldRemoteId(taskId);
      const before = (await status(taskId)).structuredContent;
      const body = JSON.stringify({ task_id: remote, status: 'completed', output: { reply: 'forged', session_id: 'x' } });
      const forged = await post(callbackUrl(taskId), body, sign(body, { secret: 'whsec_not_the_secret' }));
      expect(forged).toMatchObject({ status: 401, body: { error: { code: 'bad_signature' } } });
      // Signed with the right secret, 301 s before the hub's clock: outside the 300 s window.
      const stale = await post(callbackUrl(taskId), body, sign(body, { ts: Math.floor(clock.now() / 1000) - 301 }));
      expect(stale).toMatchObject({ status: 401, body: { error: { code: 'stale_timestamp' } } });
      const unsigned = await post(callbackUrl(taskId), body, { 'content-type': 'application/json' });
      expect(unsigned).toMatchObject({ status: 401, body: { error: { code: 'missing_header' } } });
      expect((await status(taskId)).structuredContent).toEqual(before);
      expect(await agentEvents(taskId)).toEqual([]);
    });

    it("a callback on task A's URL naming task B is refused; an unknown task id is 404", async () => {
      const a = await handleOf('held', 'task a');
      const b = await handleOf('held', 'task b');
      const remoteB = await heldRemoteId(b);
      const body = JSON.stringify({ task_id: remoteB, status: 'completed', output: { reply: 'crossed', session_id: 'x' } });
      expect(await post(callbackUrl(a), body, sign(body))).toMatchObject({ status: 400, body: { error: { code: 'bad_body' } } });
      expect((await status(a)).structuredContent).toMatchObject({ state: 'running' });
      expect(await post(callbackUrl('at_AAAAAAAAAAAAAAAAAAAAAA'), body, sign(body))).toMatchObject({ status: 404 });
      // B's own callback still completes B.
      expect(await release(remoteB)).toEqual({ statuses: [200] });
      await eventually(async () => ((await status(b)).structuredContent as { state: string }).state === 'completed' || undefined);
      expect((await status(a)).structuredContent).toMatchObject({ state: 'running' });
    });

    it('a callback delivered four times is stored and processed once', async () => {
      const r = await client.callTool('agent__dup', { input: `dup ${kind}` });
      expect(r.isError).toBe(false);
      expect(textOf(r)).toContain(`echo: dup ${kind}`);
      const taskId = (r as { _meta?: Record<string, { hubTaskId?: string }> })._meta?.['switchboard/agent']?.hubTaskId;
      // The 1.x client drops unknown _meta on results: find the task from the platform's log then.
      const id = taskId ?? (await lastTaskOf('dup'));
      await eventually(async () => ((await sentTo(id)).length === 4 ? true : undefined));
      expect((await sentTo(id)).every((s) => s === 200)).toBe(true);
      const events = await agentEvents(id);
      expect(events).toHaveLength(1);
      expect(events[0]!.state).toBe('done');
      const s = (await status(id)).structuredContent as { updatedAt: string };
      expect(s).toMatchObject({ state: 'completed' });
    });

    it('a callback that says failed, or an output that breaks the schema, is an isError result naming the agent', async () => {
      const f = await client.callTool('agent__failing', { input: 'x' });
      expect(f.isError).toBe(true);
      expect(textOf(f)).toMatch(/^agent failing: task at_[A-Za-z0-9_-]{22} failed: tool_unavailable: a tool the agent needs is down/);
      const b = await client.callTool('agent__bent', { input: 'x' });
      expect(b.isError).toBe(true);
      expect(textOf(b)).toMatch(/^agent bent: task at_\S+ failed: invalid output: /);
    });

    it('a cancel before the handle cancels the task; the late callback is acknowledged and dropped', async () => {
      const abort = new AbortController();
      let taskId: string | undefined;
      const call = client.callTool(
        'agent__held_long',
        { input: 'cancel me' },
        {
          signal: abort.signal,
          onprogress: (p) => {
            taskId ??= (p.message ?? '').match(/(at_[A-Za-z0-9_-]{22})/)?.[1];
            abort.abort();
          },
        },
      );
      await expect(call).rejects.toThrow();
      const id = await eventually(() => taskId);
      await eventually(async () => ((await status(id)).structuredContent as { state: string }).state === 'cancelled' || undefined);
      expect(await release(await heldRemoteId(id))).toEqual({ statuses: [200] });
      expect((await status(id)).structuredContent).toMatchObject({ state: 'cancelled', error: 'the caller cancelled the call' });
      expect(await agentEvents(id)).toEqual([]);
    });
  });

  it('a 2025 caller whose connection closes has not cancelled: the task goes on and agent__task_status returns its result', async () => {
    const init = await rawInitialize(hub.url, hub.token);
    const session = init.sessionId!;
    await fetch(hub.url, {
      method: 'POST',
      headers: sessionHeaders(hub.token, session),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    const abort = new AbortController();
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: sessionHeaders(hub.token, session),
      signal: abort.signal,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'agent__held_long', arguments: { input: 'keep me' }, _meta: { progressToken: 1 } },
      }),
    });
    // Read up to the first progress notification, which names the task; then hang up without a cancel.
    const reader = res.body!.getReader();
    let seen = '';
    while (!/at_[A-Za-z0-9_-]{22}/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    const taskId = /(at_[A-Za-z0-9_-]{22})/.exec(seen)![1]!;
    abort.abort();
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const state = async () => ((await c.callTool('agent__task_status', { taskId })).structuredContent as { state: string; result?: unknown }).state;
      // The hub did not take the closed connection for a cancel: the task runs on (and so does the
      // call, whose stream a 2025-11-25 client could resume).
      expect(await state()).toBe('running');
      expect(await release(await heldRemoteId(taskId))).toEqual({ statuses: [200] });
      const done = await eventually(async () => {
        const s = (await c.callTool('agent__task_status', { taskId })).structuredContent as { state: string; result?: unknown };
        return s.state === 'completed' ? s : undefined;
      });
      expect(done.result).toMatchObject({ reply: 'echo: keep me' });
    } finally {
      await c.close();
    }
  });

  it("a failed task's error is kept sealed, and scrubbed of the agents' secrets", async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__failing', { input: 'x' });
      expect(r.isError).toBe(true);
      const taskId = await lastTaskOf('failing');
      const stored = hub.hub.db.prepare('SELECT error FROM agent_tasks WHERE id = ?').pluck().get(taskId) as string;
      expect(stored).toMatch(/^sbv1\./);
      expect(stored).not.toContain('tool_unavailable');
      expect((await c.callTool('agent__task_status', { taskId })).structuredContent).toMatchObject({
        state: 'failed',
        error: expect.stringContaining('tool_unavailable'),
      });
    } finally {
      await c.close();
    }
  });

  it('an unanswered task is timed_out once the hub clock passes its expiry; its late callback is dropped', async () => {
    const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
    try {
      const r = await c.callTool('agent__held', { input: 'too late' });
      const { taskId } = r.structuredContent as { taskId: string };
      skew += TTL_MS - 1_000;
      expect((await c.callTool('agent__task_status', { taskId })).structuredContent).toMatchObject({ state: 'running' });
      skew += 1_000;
      expect((await c.callTool('agent__task_status', { taskId })).structuredContent).toMatchObject({
        state: 'timed_out',
        error: 'no answer came before the task expired',
      });
      const late = await release(await heldRemoteId(taskId));
      expect(late).toEqual({ statuses: [200] });
      expect((await c.callTool('agent__task_status', { taskId })).structuredContent).toMatchObject({ state: 'timed_out' });
    } finally {
      skew = 0;
      await c.close();
    }
  });

  /** The statuses the hub answered the platform's sends of this task's callback with. */
  async function sentTo(taskId: string): Promise<number[]> {
    const r = (await (await fetch(`${base}${market}/_callbacks`, { headers: MARKET_AUTH })).json()) as { sent: Array<{ taskId: string; status: number }> };
    const remote = hub.hub.db.prepare('SELECT remote_task_id FROM agent_tasks WHERE id = ?').pluck().get(taskId) as string;
    return r.sent.filter((s) => s.taskId === remote).map((s) => s.status);
  }
  async function lastTaskOf(agent: string): Promise<string> {
    return hub.hub.db.prepare('SELECT id FROM agent_tasks WHERE agent = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').pluck().get(agent) as string;
  }
});
