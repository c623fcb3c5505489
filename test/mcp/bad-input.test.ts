/**
 * A caller's malformed requests get a JSON-RPC error that says what is wrong, and lose nothing:
 * params of the wrong type on the methods the SDK checks (-32602 on one line, not -32603 with zod's
 * dump), an initialize that is not quite one (-32602 naming the field, not "no session id"),
 * JSON nested too deep to pass on (-32600 at the door, not a downstream failure mid-call), and a
 * 2026 retry whose `inputResponses` cannot answer the held call's requests (-32602, and the call
 * keeps waiting for a good retry). Over HTTP on a real hub, and over `switchboard stdio`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentRefusal } from '../helpers/clients.js';
import { CLI, ROOT, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { modernEnvelope, modernHeaders, rawInitialize, rawModernCall, sessionHeaders } from '../helpers/raw-mcp.js';
import { nestsTooDeep } from '../../src/mcp/json-depth.js';

const ASKING = join(ROOT, 'dist/test/fixtures/asking-server.js');
const DEEP = 10_000;
const deep = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;

interface Reply {
  status: number;
  id?: unknown;
  error?: { code: number; message: string };
  result?: Record<string, unknown>;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:') && l.length > 6)
        .at(-1)!
        .slice(5)
    : text;
  return { status: res.status, ...(JSON.parse(json) as Omit<Reply, 'status'>) };
}

describe('bad input over HTTP', () => {
  let hub: RunningHub;
  let session: string;

  beforeAll(async () => {
    hub = await startHub({
      mcpServers: { ask: { command: process.execPath, args: [ASKING, '--v1-stdio'], isolation: 'user' } },
      agents: { echo: { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local', agentId: 'echo_v1' } },
    });
    const init = await rawInitialize(hub.url, hub.token);
    session = init.sessionId!;
  });

  afterAll(() => hub?.stop());

  const legacy = (method: string, params: unknown, id = 7) =>
    post(hub.url, sessionHeaders(hub.token, session), JSON.stringify({ jsonrpc: '2.0', id, method, params }));

  it('answers params of the wrong type with -32602 on one line, on a 2025 session and on 2026-07-28', async () => {
    for (const [method, params, field] of [
      ['resources/read', { uri: 5 }, 'params.uri'],
      ['prompts/get', { name: 5 }, 'params.name'],
      ['tools/list', { cursor: 5 }, 'params.cursor'],
      ['logging/setLevel', { level: 'loud' }, 'params.level'],
      ['completion/complete', {}, 'params.ref'],
    ] as const) {
      const r = await legacy(method, params);
      expect(r.error?.code, method).toBe(-32602);
      expect(r.error?.message).toContain(`Invalid params for ${method}: ${field}: `);
      expect(r.error?.message).not.toContain('\n');
    }
    const modern = await post(
      hub.url,
      modernHeaders(hub.token, 'tools/list'),
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { cursor: 5, _meta: modernEnvelope() } }),
    );
    expect(modern.error?.code).toBe(-32602);
    expect(modern.error?.message).toMatch(/^Invalid params for tools\/list: params\.cursor: /);
    // The session serves on.
    expect((await legacy('tools/list', {})).result?.['tools']).toBeInstanceOf(Array);
  });

  it('lists an agent’s input schema closed, as it is checked: an undeclared argument is refused as a tool error the model reads', async () => {
    const list = await legacy('tools/list', {});
    const echo = ((list.result?.['tools'] ?? []) as Array<{ name: string; inputSchema: Record<string, unknown> }>).find((t) => t.name === 'agent__echo');
    expect(echo?.inputSchema['additionalProperties']).toBe(false);
    const r = await legacy('tools/call', { name: 'agent__echo', arguments: { input: 'hi', extra: 1 } });
    expect(r.error).toBeUndefined();
    expect(argumentRefusal(r.result)).toContain('unknown argument "extra"');
  });

  it('answers an initialize with bad params with -32602 naming the field, and one in a batch with -32600', async () => {
    const headers = { authorization: `Bearer ${hub.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    const bad = await post(
      hub.url,
      headers,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'initialize',
        params: { protocolVersion: 2025, capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    );
    expect(bad).toMatchObject({ status: 400, id: 9, error: { code: -32602 } });
    expect(bad.error?.message).toBe('Invalid params for initialize: params.protocolVersion: Invalid input: expected string, received number');
    const missing = await post(hub.url, headers, JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'initialize' }));
    expect(missing.error).toMatchObject({ code: -32602, message: expect.stringContaining('params: ') });
    const batch = await post(
      hub.url,
      headers,
      JSON.stringify([
        { jsonrpc: '2.0', id: 11, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      ]),
    );
    expect(batch).toMatchObject({ status: 400, error: { code: -32600, message: 'initialize must be sent alone, not in a batch' } });
  });

  it('refuses JSON nested deeper than 256 levels with -32600 before any tool runs; brackets inside strings do not count', async () => {
    const r = await post(
      hub.url,
      sessionHeaders(hub.token, session),
      `{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"ask__transfer","arguments":{"account":${deep}}}}`,
    );
    expect(r).toMatchObject({ status: 400, error: { code: -32600, message: 'Invalid Request: the JSON nests deeper than 256 levels' } });
    expect(nestsTooDeep(JSON.stringify({ text: '['.repeat(5000) }))).toBe(false);
    expect(nestsTooDeep(`{"a":${'['.repeat(257)}${']'.repeat(257)}}`)).toBe(true);
    expect(nestsTooDeep(`{"a":${'['.repeat(255)}${']'.repeat(255)}}`)).toBe(false);
  });

  it('refuses a 2026 retry whose inputResponses cannot answer the held requests, and the call still completes on a good one', async () => {
    const envelope = modernEnvelope({ elicitation: {}, sampling: {} });
    const first = await rawModernCall(hub.url, hub.token, { name: 'ask__transfer', arguments: { account: 'A-1' }, _meta: envelope });
    expect(first.result?.resultType).toBe('input_required');
    const state = first.result!.requestState!;
    const [key] = Object.keys(first.result!.inputRequests!);
    for (const inputResponses of ['x', [1], {}, { nope: { action: 'accept' } }, { [key!]: { action: 'maybe' } }]) {
      const r = await rawModernCall(hub.url, hub.token, {
        name: 'ask__transfer',
        arguments: { account: 'A-1' },
        _meta: envelope,
        requestState: state,
        inputResponses,
      });
      expect(r.error?.code, JSON.stringify(inputResponses)).toBe(-32602);
      expect(r.error?.message).toMatch(/^ask: inputResponses[ .]/);
    }
    const next = await rawModernCall(hub.url, hub.token, {
      name: 'ask__transfer',
      arguments: { account: 'A-1' },
      _meta: envelope,
      requestState: state,
      inputResponses: { [key!]: { action: 'accept', content: { who: 'alice' } } },
    });
    // The elicitation was answered; the server's next question (a sample) comes as the next round.
    expect(next.error).toBeUndefined();
    expect(next.result?.resultType).toBe('input_required');
    expect(Object.values(next.result!.inputRequests!)).toEqual([expect.objectContaining({ method: 'sampling/createMessage' })]);
  });
});

describe('bad input over switchboard stdio', () => {
  it('answers bad params with -32602 and too-deep JSON with -32600, each under its request id, and serves on', async () => {
    const dir = tmpDir();
    const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--data', dir.path], { stdio: ['pipe', 'pipe', 'ignore'] });
    const replies = new Map<unknown, Reply>();
    const waiters = new Map<unknown, (r: Reply) => void>();
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as Reply;
      replies.set(m.id, m);
      waiters.get(m.id)?.(m);
    });
    const send = (id: number, method: string, params: string) =>
      new Promise<Reply>((resolve) => {
        waiters.set(id, resolve);
        child.stdin.write(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}\n`);
      });
    try {
      const init = await send(1, 'initialize', JSON.stringify({ protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } }));
      expect(init.result?.['protocolVersion']).toBe('2025-11-25');
      child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
      expect((await send(2, 'resources/read', '{"uri":5}')).error).toMatchObject({
        code: -32602,
        message: expect.stringMatching(/^Invalid params for resources\/read: params\.uri: /),
      });
      expect((await send(3, 'tools/list', `{"cursor":"c","x":${deep}}`)).error).toMatchObject({ code: -32600, message: expect.stringContaining('256 levels') });
      expect((await send(4, 'tools/list', '{}')).result?.['tools']).toBeInstanceOf(Array);
    } finally {
      child.kill();
      dir.remove();
    }
  });
});
