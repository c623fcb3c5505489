/**
 * A 2025-11-25 session's tools/call to an agent, served without the SDK's transport and Server
 * (src/mcp/direct-call.ts): a real hub on loopback with the sandbox marketplace, called by the
 * v2 SDK client pinned to the 2025 handshake and by raw POSTs where the client would hide the wire.
 * What the direct path does not take (batches, tasks, other tools, a bad Accept) must still go the SDK way.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { rawInitialize, sessionHeaders, wireRecorder } from '../helpers/raw-mcp.js';
import { SB, startAgentHub } from '../agents/support.js';

const LEGACY = '2025-11-25';
const ECHO_OUT = { type: 'object', properties: { reply: { type: 'string' } }, required: ['reply'] };
const AGENTS = {
  echo: { ...SB, agentId: 'echo_v1', outputSchema: ECHO_OUT },
  overflow: { ...SB, agentId: 'echo_v1+agent-error=context_overflow' },
  lagging: { ...SB, agentId: 'echo_v1+latency-ms=150' },
  slow: { ...SB, agentId: 'echo_v1+latency-ms=5000', retries: 0 },
  writer: { ...SB, agentId: 'writer_v2+token-ms=1', mode: 'stream' },
};

/**
 * A direct call's answer: its own priming event (an id naming the direct stream, as a 2025-11-25
 * client expects one), then `event: message` events without the ids the SDK's transport stores.
 */
const PRIMING = 'id: direct-[0-9a-f-]{36}::0\nretry: 1000\ndata: \n\n';
const DIRECT_BODY = new RegExp(`^${PRIMING}(event: message\ndata: \\{[^\n]*\\}\n\n)+$`);

interface Rpc {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The JSON-RPC messages of an SSE body, in order (or the one JSON body); the SDK's priming events carry no data. */
function messagesOf(text: string, contentType: string | null): Rpc[] {
  if (!contentType?.includes('text/event-stream')) {
    const parsed = JSON.parse(text) as Rpc | Rpc[];
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return text
    .split('\n\n')
    .map((e) =>
      e
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join(''),
    )
    .filter(Boolean)
    .map((data) => JSON.parse(data) as Rpc);
}

/** A result with the ids that differ from call to call (the agent's task, the sandbox session) blanked. */
function stable(result: unknown): unknown {
  return JSON.parse(
    JSON.stringify(result)
      .replace(/task_[0-9a-f-]{36}/g, 'task_*')
      .replace(/sbs_[A-Za-z0-9]+/g, 'sbs_*'),
  );
}

describe('direct tools/call on a 2025 session', () => {
  let hub: RunningHub;
  let bobToken: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    ({ hub, bobToken } = await startAgentHub(AGENTS));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
  });

  /**
   * A v2 SDK client on a 2025 session; `onCall` sees each tools/call's response headers arrive, and
   * `wire` holds the bodies of its tools/call responses as they came (a copy the client does not read).
   */
  async function connect(token = hub.token, onCall?: () => void) {
    const client = new Client({ name: 'direct-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
    const recorder = wireRecorder(onCall);
    const transport = new StreamableHTTPClientTransport(new URL(hub.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: recorder.fetch,
    });
    await client.connect(transport);
    clients.push(client);
    return { client, sessionId: () => transport.sessionId ?? '', wire: recorder.calls };
  }

  /** How many calls to an agent ended cancelled, from /metrics. */
  async function cancelledCalls(agent: string): Promise<number> {
    const text = await (await fetch(`${new URL(hub.url).origin}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('switchboard_agent_calls_total') && l.includes(`agent="${agent}"`) && l.includes('status="cancelled"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  /** A raw 2025 session: its id, and POST for it. */
  async function rawSession(token = hub.token) {
    const init = await rawInitialize(hub.url, token);
    expect(init.status).toBe(200);
    const sessionId = init.sessionId ?? '';
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(hub.url, {
        method: 'POST',
        headers: sessionHeaders(token, sessionId, extra),
        body: JSON.stringify(body),
      });
    const call = async (body: unknown, extra: Record<string, string> = {}) => {
      const res = await post(body, extra);
      return { res, messages: messagesOf(await res.text(), res.headers.get('content-type')) };
    };
    return { sessionId, post, call };
  }

  const toolsCall = (id: number | string, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...extra },
  });

  it('answers a sync agent as the SDK path does: content, structuredContent, and isError for an agent-level error', async () => {
    const { client: legacy, wire } = await connect();
    // The SDK's path on a 2025 session: a batch of one never goes direct.
    const s = await rawSession();
    const viaSdk = async (name: string) => (await s.call([toolsCall(1, name, { input: name })])).messages[0]?.result;
    expect(legacy.getNegotiatedProtocolVersion()).toBe(LEGACY);
    const direct = await legacy.callTool({ name: 'agent__echo', arguments: { input: 'agent__echo' } });
    expect(direct.isError).not.toBe(true);
    expect(direct.structuredContent).toMatchObject({ reply: 'echo: agent__echo', confidence: 1 });
    expect(JSON.parse((direct.content[0] as { text: string }).text) as unknown).toEqual(direct.structuredContent);
    expect(stable(direct)).toEqual(stable(await viaSdk('agent__echo')));

    const failed = await legacy.callTool({ name: 'agent__overflow', arguments: { input: 'agent__overflow' } });
    expect(failed).toMatchObject({
      content: [{ type: 'text', text: 'agent overflow reported context_overflow: the agent stopped: context_overflow' }],
      isError: true,
    });
    expect(stable(failed)).toEqual(stable(await viaSdk('agent__overflow')));
    // Both went direct: the direct stream's priming event, no stored event ids.
    expect(wire).toHaveLength(2);
    for (const body of await Promise.all(wire)) expect(body).toMatch(DIRECT_BODY);
  });

  it('answers a raw POST with an event stream carrying the session id and one message with the same id; a batch gets the same result', async () => {
    const s = await rawSession();
    const res = await s.post(toolsCall('raw-7', 'agent__echo', { input: 'wire' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('mcp-session-id')).toBe(s.sessionId);
    const body = await res.text();
    expect(body).toMatch(new RegExp(`^${PRIMING}event: message\ndata: \\{.*\\}\n\n$`));
    expect(body).toMatch(DIRECT_BODY);
    const messages = messagesOf(body, res.headers.get('content-type'));
    expect(messages).toEqual([
      { jsonrpc: '2.0', id: 'raw-7', result: expect.objectContaining({ structuredContent: expect.objectContaining({ reply: 'echo: wire' }) }) },
    ]);
    // The same call in a batch goes the SDK's way: the same result.
    const batch = await s.call([toolsCall(8, 'agent__echo', { input: 'wire' })]);
    expect(batch.messages).toHaveLength(1);
    expect(stable(batch.messages[0]?.result)).toEqual(stable(messages[0]?.result));
  });

  it('sends a stream agent’s progress before the result (SDK client and raw)', async () => {
    const { client, wire } = await connect();
    const seen: string[] = [];
    const r = await client.callTool({ name: 'agent__writer', arguments: { input: 'direct calls' } }, { onprogress: (p) => void seen.push(p.message ?? '') });
    expect(r.isError).not.toBe(true);
    expect(seen[0]).toBe('agent writer is calling the tool lookup');
    expect(seen.slice(1).join('')).toBe((r.content[0] as { text: string }).text);
    expect(await wire[0]).toMatch(DIRECT_BODY);

    const s = await rawSession();
    const { messages } = await s.call(toolsCall(3, 'agent__writer', { input: 'direct calls' }, { _meta: { progressToken: 'tok-3' } }));
    // The tool call, then the text (tokens within 10 ms of each other share a notification), then the result.
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(messages.at(-1)).toMatchObject({
      id: 3,
      result: { content: [{ type: 'text', text: expect.stringMatching(/^Here is a short note on direct calls\./) }] },
    });
    for (const m of messages.slice(0, -1)) expect(m).toMatchObject({ method: 'notifications/progress', params: { progressToken: 'tok-3' } });
    const progressText = messages.slice(1, -1).map((m) => String(m.params?.['message']));
    const answer = (messages.at(-1)!.result!['content'] as Array<{ text: string }>)[0]!.text;
    expect(progressText.join('')).toBe(answer);
  });

  it('keeps two users’ concurrent calls apart, and one user’s session is not found with the other’s token', async () => {
    const alice = await connect();
    const bob = await connect(bobToken);
    const calls = (who: string, c: Client) => Array.from({ length: 10 }, (_, i) => c.callTool({ name: 'agent__lagging', arguments: { input: `${who}-${i}` } }));
    const results = await Promise.all([...calls('alice', alice.client), ...calls('bob', bob.client)]);
    const replies = results.map((r) => (JSON.parse((r.content[0] as { text: string }).text) as { reply: string }).reply);
    const expected = ['alice', 'bob'].flatMap((who) => Array.from({ length: 10 }, (_, i) => `echo: ${who}-${i}`));
    expect(replies).toEqual(expected);
    expect(alice.wire.length + bob.wire.length).toBe(20);
    for (const body of await Promise.all([...alice.wire, ...bob.wire])) expect(body).toMatch(DIRECT_BODY);

    const res = await fetch(hub.url, {
      method: 'POST',
      headers: sessionHeaders(bobToken, alice.sessionId()),
      body: JSON.stringify(toolsCall(1, 'agent__echo', { input: 'not mine' })),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: -32001, message: 'Session not found' } });
  });

  it('cancels a raw call on notifications/cancelled: 202, and its stream stays open without a result, as the SDK leaves it', async () => {
    const s = await rawSession();
    // The headers come once the stream starts (the hub holds them up to 1 s): the call is in flight.
    const res = await s.post(toolsCall(11, 'agent__slow', { input: 'never' }));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let seen = '';
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        seen += new TextDecoder().decode(value);
      }
    })();
    const before = await cancelledCalls('slow');
    const cancel = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 11, reason: 'test' } });
    expect(cancel.status).toBe(202);
    // The call ended at the agent's side well before its 5 s.
    await expect.poll(() => cancelledCalls('slow'), { timeout: 3_000 }).toBeGreaterThan(before);
    const next = await s.call(toolsCall(13, 'agent__echo', { input: 'after' }));
    expect(next.messages[0]?.result).toMatchObject({ structuredContent: { reply: 'echo: after' } });
    await reader.cancel();
    await reading;
    // The priming event only: no answer, and not ended (a client that saw the priming id would take an end for a drop and resume).
    expect(seen).toMatch(new RegExp(`^${PRIMING}$`));
  });

  it('rejects an SDK client call aborted mid-call, and the hub stays usable', async () => {
    let inFlight = () => {};
    const seen = new Promise<void>((r) => (inFlight = r));
    const { client, wire } = await connect(hub.token, () => inFlight());
    const abort = new AbortController();
    const call = client.callTool({ name: 'agent__slow', arguments: { input: 'abandoned' } }, { signal: abort.signal });
    await seen;
    abort.abort(new Error('the user gave up'));
    await expect(call).rejects.toThrow();
    expect(wire).toHaveLength(1);
    const next = await client.callTool({ name: 'agent__echo', arguments: { input: 'after' } });
    expect(next.structuredContent).toMatchObject({ reply: 'echo: after' });
  });

  it('ends a call in flight when its session is deleted or its token revoked, as the SDK path does', async () => {
    const ended = async (how: 'delete' | 'revoke') => {
      const { token, record } = await hub.hub.tokens.create({ user: `carol-${how}` });
      const s = await rawSession(token);
      const res = await s.post(toolsCall(12, 'agent__slow', { input: how }));
      if (how === 'revoke') await hub.hub.tokens.revoke(record.id);
      else expect((await fetch(hub.url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': s.sessionId } })).status).toBe(200);
      return messagesOf(await res.text(), res.headers.get('content-type'));
    };
    // The SDK's path closes a deleted session's streams; a revoked token's sessions are closed the same way.
    expect(await Promise.all([ended('delete'), ended('revoke')])).toEqual([[], []]);
  });

  it('answers an unknown tool with JSON-RPC -32602, and arguments outside the input schema with a tool error (SEP-1303)', async () => {
    const { client } = await connect();
    await expect(client.callTool({ name: 'agent__nobody', arguments: {} })).rejects.toMatchObject({ code: -32602 });
    expect(argumentRefusal(await client.callTool({ name: 'agent__echo', arguments: { input: 'x', extra: 1 } }))).toContain('unknown argument "extra"');
    const s = await rawSession();
    const direct = await s.call(toolsCall(4, 'agent__echo', { input: 42 }));
    const viaSdk = await s.call([toolsCall(4, 'agent__echo', { input: 42 })]);
    expect(direct.messages).toHaveLength(1);
    expect(argumentRefusal(direct.messages[0]?.result)).toContain('invalid arguments for agent__echo');
    expect(viaSdk.messages).toEqual(direct.messages);
  });

  it('serves a task-augmented call the SDK way: a task whose result is the tool result', async () => {
    const s = await rawSession();
    const created = await s.call(toolsCall(5, 'agent__writer', { input: 'as a task' }, { task: { ttl: 60_000 } }));
    const taskId = (created.messages.at(-1)?.result?.['task'] as { taskId?: string } | undefined)?.taskId;
    expect(taskId).toEqual(expect.any(String));
    const result = await s.call({ jsonrpc: '2.0', id: 6, method: 'tasks/result', params: { taskId } });
    expect(result.messages.at(-1)).toMatchObject({
      id: 6,
      result: { content: [{ type: 'text', text: expect.stringMatching(/^Here is a short note on as a task\./) }] },
    });
  });

  it('leaves a POST that accepts only JSON to the SDK, which answers 406', async () => {
    const s = await rawSession();
    const res = await s.post(toolsCall(9, 'agent__echo', { input: 'x' }), { accept: 'application/json' });
    expect(res.status).toBe(406);
  });
});
