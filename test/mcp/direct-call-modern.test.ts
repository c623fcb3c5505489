/**
 * A 2026-07-28 tools/call to an agent, served without the SDK's handler (src/mcp/direct-call.ts):
 * a real hub on loopback with the sandbox marketplace, called by the v2 SDK client on the 2026
 * era and by raw POSTs. Each direct answer is compared with the SDK's answer to the same call (an
 * envelope key the direct path does not know sends a request the SDK's way), and what the direct
 * path must not take (a call that becomes a task, a bad envelope) still goes the SDK's way.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { modernEnvelope, modernHeaders, rawModernCallMessages } from '../helpers/raw-mcp.js';
import { SB, startAgentHub } from '../agents/support.js';

const AGENTS = {
  echo: { ...SB, agentId: 'echo_v1' },
  drip: { ...SB, agentId: 'writer_v2+token-ms=3000', mode: 'stream', retries: 0 },
  writer: { ...SB, agentId: 'writer_v2+token-ms=1', mode: 'stream' },
};

/** Sends the request the SDK's way: the direct path takes only envelope keys it knows. */
const VIA_SDK = { 'io.modelcontextprotocol/x-test': 1 };

interface Rpc {
  jsonrpc?: string;
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

interface Raw {
  status: number;
  contentType: string;
  /** The JSON-RPC messages in order: the SSE events, or the one JSON body. */
  messages: Rpc[];
}

/** One 2026-07-28 tools/call as a client of that era sends it; `meta` joins the envelope. */
function call(
  hub: RunningHub,
  token: string,
  name: string,
  args: Record<string, unknown>,
  meta: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<Raw> {
  return rawModernCallMessages<Rpc>(hub.url, token, name, args, meta, signal);
}

/** A message with the ids that differ from call to call blanked, and its keys in one order. */
function stable(message: Rpc | undefined): unknown {
  const blank = JSON.stringify(message)
    .replace(/task_[0-9a-f-]{36}/g, 'task_*')
    .replace(/sbs_[A-Za-z0-9_-]+/g, 'sbs_*');
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, sort(x)]),
          )
        : v;
  return sort(JSON.parse(blank));
}

describe('direct tools/call on 2026-07-28 requests', () => {
  let hub: RunningHub;
  let bobToken: string;

  beforeAll(async () => {
    ({ hub, bobToken } = await startAgentHub(AGENTS));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('answers a call without progress as one JSON body, the SDK would answer the same', async () => {
    const direct = await call(hub, hub.token, 'agent__echo', { input: 'hello' });
    const sdk = await call(hub, hub.token, 'agent__echo', { input: 'hello' }, VIA_SDK);
    expect([direct.status, direct.contentType]).toEqual([200, 'application/json']);
    // The direct answer is written as built (jsonrpc first); the SDK's puts the result first.
    expect(Object.keys(direct.messages[0]!)[0]).toBe('jsonrpc');
    expect(Object.keys(sdk.messages[0]!)[0]).toBe('result');
    expect(direct.messages[0]!.result).toMatchObject({ resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'switchboard' } } });
    expect(stable(direct.messages[0])).toEqual(stable(sdk.messages[0]));
  });

  it('gives bad arguments the same tool error as the SDK way (invalid_arguments, SEP-1303), with HTTP 200', async () => {
    const direct = await call(hub, hub.token, 'agent__echo', { wrong: 1 });
    const sdk = await call(hub, hub.token, 'agent__echo', { wrong: 1 }, VIA_SDK);
    expect(direct.status).toBe(200);
    expect(argumentRefusal(direct.messages[0]!.result)).toContain('unknown argument "wrong"');
    expect(stable(direct.messages[0])).toEqual(stable(sdk.messages[0]));
  });

  it('streams progress before the result when asked, the events as the SDK sends them', async () => {
    const direct = await call(hub, hub.token, 'agent__writer', { input: 'cats' }, { progressToken: 'p1' });
    const sdk = await call(hub, hub.token, 'agent__writer', { input: 'cats' }, { progressToken: 'p1', ...VIA_SDK });
    expect(direct.contentType).toContain('text/event-stream');
    const progress = direct.messages.slice(0, -1);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((m) => m.method === 'notifications/progress' && m.params?.['progressToken'] === 'p1')).toBe(true);
    const text = (m: Rpc | undefined) => ((m?.result?.['content'] ?? []) as Array<{ text: string }>)[0]?.text;
    // The writer calls a tool first (said as progress), then streams its text word by word.
    const words = progress.map((m) => String(m.params?.['message'])).filter((t) => !t.startsWith('agent writer is calling'));
    expect(words.join('')).toBe(text(direct.messages.at(-1)));
    expect(stable(direct.messages.at(-1))).toEqual(stable(sdk.messages.at(-1)));
  });

  it('leaves a call that asks to become a task to the task machinery', async () => {
    const tasks = { extensions: { 'io.modelcontextprotocol/tasks': {} } };
    const r = await call(hub, hub.token, 'agent__writer', { input: 'cats' }, { 'io.modelcontextprotocol/clientCapabilities': tasks });
    expect(r.messages.at(-1)?.result).toMatchObject({ resultType: 'task' });
  });

  it('leaves a bad envelope to the SDK, which answers 400', async () => {
    const r = await call(hub, hub.token, 'agent__echo', { input: 'x' }, { 'io.modelcontextprotocol/clientCapabilities': undefined });
    expect([r.status, r.messages[0]!.error?.code]).toEqual([400, -32602]);
  });

  it('serves two users side by side, each call its own answer', async () => {
    const both = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const who = i % 2 === 0 ? 'alice' : 'bob';
        return call(hub, who === 'alice' ? hub.token : bobToken, 'agent__echo', { input: `${who} ${i}` }).then((r) => ({ who, i, r }));
      }),
    );
    for (const { who, i, r } of both) {
      expect(JSON.stringify(r.messages[0]!.result)).toContain(`echo: ${who} ${i}`);
    }
  });

  it('cancels the call when the client goes away, and the next call is answered', async () => {
    const gone = new AbortController();
    const res = await fetch(hub.url, {
      method: 'POST',
      signal: gone.signal,
      headers: modernHeaders(hub.token, 'tools/call', 'agent__drip'),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'agent__drip', arguments: { input: 'x' }, _meta: { ...modernEnvelope({}), progressToken: 'd' } },
      }),
    });
    // The first progress event: the call is in flight at the agent, its tokens 3 s apart.
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('notifications/progress');
    gone.abort();
    const metrics = async () => (await (await fetch(`${new URL(hub.url).origin}/metrics`)).text()).split('\n');
    await expect
      .poll(
        async () =>
          (await metrics()).some((l) => l.startsWith('switchboard_agent_calls_total') && l.includes('agent="drip"') && l.includes('status="cancelled"')),
        {
          timeout: 5_000,
        },
      )
      .toBe(true);
    const next = await call(hub, hub.token, 'agent__echo', { input: 'after' });
    expect(JSON.stringify(next.messages[0]!.result)).toContain('echo: after');
  });

  it('works for the v2 SDK client on the 2026 era, progress included', async () => {
    const client = new Client({ name: 'direct-modern', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      let progress = 0;
      const r = await client.callTool({ name: 'agent__writer', arguments: { input: 'dogs' } }, { onprogress: () => void progress++ });
      expect(r.isError).toBeFalsy();
      expect(progress).toBeGreaterThan(0);
      const echo = await client.callTool({ name: 'agent__echo', arguments: { input: 'sdk' } });
      expect(JSON.stringify(echo.content)).toContain('echo: sdk');
    } finally {
      await client.close();
    }
  });
});
