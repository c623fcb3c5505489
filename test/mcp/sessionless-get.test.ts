/**
 * A GET on /mcp without a session. The AI SDK's MCP client (1.0.x, and 2.0.x on a 2025 session)
 * opens its GET stream as its transport starts, before initialize, and reports anything but a
 * stream or 405 as "GET SSE failed: 400 Bad Request" at every connect. The spec answers a GET
 * with a stream or 405; a session's own GET stream still opens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { rawSessionWithStream } from '../helpers/raw-mcp.js';

let h: RunningHub;

beforeAll(async () => {
  h = await startHub();
});
afterAll(async () => {
  await h.stop();
});

/** The GET the AI SDK's transport sends from start(), before any initialize. */
function sessionlessGet(version: string): Promise<Response> {
  return fetch(h.url, { headers: { authorization: `Bearer ${h.token}`, accept: 'text/event-stream', 'mcp-protocol-version': version } });
}

describe('GET /mcp without a session', () => {
  it.each(['2025-11-25', '2026-07-28'])('is 405 with Allow: POST and says how to get a stream (%s)', async (version) => {
    const res = await sessionlessGet(version);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const body = (await res.json()) as { jsonrpc: string; id: null; error: { code: number; message: string; data: { code: string } } };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBeNull();
    expect(body.error.data.code).toBe('bad_request');
    expect(body.error.message).toContain('POST initialize first, then GET with its Mcp-Session-Id');
  });

  it('leaves a session’s own GET stream as it was: it opens once the session exists', async () => {
    const { sessionId, ended } = await rawSessionWithStream(h.url, h.token);
    expect(sessionId).toBeTruthy();
    const del = await fetch(h.url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    });
    expect(del.status).toBe(200);
    await expect(ended).resolves.toBe('ended');
  });

  it('still refuses a sessionless POST that is not an initialize with 400 session_required', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${h.token}`,
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('session_required');
  });
});
