import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_SPECS, httpError, jsonRpcHttpError } from '../../src/errors.js';
import { fixtureStdio, startHub, type RunningHub } from '../helpers/hub.js';

/** The value of one sample of a Prometheus text exposition, matched on every label given; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

function textOf(result: { content?: unknown }): string {
  return (result.content as { type: string; text: string }[]).map((c) => c.text).join('');
}

/**
 * Failures take their outcomes from the error table, seen from outside: an MCP client's result,
 * the /metrics scrape, and the HTTP status and body of refused requests.
 */
describe('error outcomes through the public interface', () => {
  let h: RunningHub;
  let client: Client;
  const metrics = async () => (await fetch(`http://127.0.0.1:${h.port}/metrics`)).text();

  beforeAll(async () => {
    h = await startHub({ mcpServers: { fx: fixtureStdio({}, { timeoutMs: 300 }) } });
    client = new Client({ name: 'outcomes-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await h?.stop();
  });

  it('a downstream call that times out answers an isError result and moves the timeout outcome', async () => {
    const before = await metrics();
    expect(sample(before, 'switchboard_tool_calls_total', { source: 'fx', tool: 'slow', outcome: 'timeout' })).toBe(0);
    const result = await client.callTool({ name: 'fx__slow', arguments: { ms: 10_000, id: 'late' } });
    expect({ isError: result.isError, text: textOf(result) }).toEqual({ isError: true, text: 'fx: tool slow timed out after 300 ms' });
    const after = await metrics();
    expect(sample(after, 'switchboard_tool_calls_total', { source: 'fx', tool: 'slow', outcome: 'timeout' })).toBe(1);
    expect(sample(after, 'switchboard_tool_errors_total', { source: 'fx', code: 'source_timeout' })).toBe(1);
    expect(sample(after, 'switchboard_tool_call_duration_seconds_count', { source: 'fx', outcome: 'timeout' })).toBe(1);
  });

  it('a downstream that crashes during a call moves the crashed outcome and the source_crashed count', async () => {
    const result = await client.callTool({ name: 'fx__crash', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^fx: the server stopped during the call \(.+\); it is being restarted$/);
    const after = await metrics();
    expect(sample(after, 'switchboard_tool_calls_total', { source: 'fx', tool: 'crash', outcome: 'crashed' })).toBe(1);
    expect(sample(after, 'switchboard_tool_errors_total', { source: 'fx', code: 'source_crashed' })).toBe(1);
    expect(ERROR_SPECS.source_crashed.retryable).toBe(true);
  });

  it('an unknown tool is the JSON-RPC error the table gives tool_not_found', async () => {
    await expect(client.callTool({ name: 'fx__nope', arguments: {} })).rejects.toMatchObject({ code: ERROR_SPECS.tool_not_found.mcp.code });
  });

  it('HTTP refusals answer the status and body the table gives their code', async () => {
    const base = `http://127.0.0.1:${h.port}`;
    const auth = { authorization: `Bearer ${h.token}` };
    const answer = async (r: Response) => ({ status: r.status, body: await r.json() });

    const missing = await answer(await fetch(`${base}/no-such-route`));
    expect(missing).toEqual(httpError('not_found', 'no such route'));
    expect(missing.status).toBe(404);

    const plain = await answer(await fetch(`${base}/mcp`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' }));
    expect(plain).toEqual(jsonRpcHttpError('unsupported_media_type', 'Content-Type must be application/json'));
    expect(plain.status).toBe(415);

    const notJson = await answer(
      await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: '{"jsonrpc":',
      }),
    );
    expect(notJson).toEqual(jsonRpcHttpError('parse_error', 'Parse error: body is not valid JSON'));
    expect(notJson.body.error.code).toBe(-32700);

    const session = await answer(
      await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': 'no-such-session',
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      }),
    );
    expect(session).toEqual(jsonRpcHttpError('session_not_found', 'Session not found'));
    expect(session.status).toBe(404);
  });
});
