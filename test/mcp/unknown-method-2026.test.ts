/**
 * A 2026-07-28 request for a method the hub does not serve — the v1 `tasks/list` and
 * `tasks/result` (gone from the 2026 Tasks extension), or any unknown name — is method-not-found:
 * HTTP 404 with JSON-RPC -32601, as SEP-2575 requires (the conformance suite checks both), and the
 * hub's code `not_found` in `data`, as every JSON-RPC error of the hub carries one (docs/errors.md)
 * — not `session_not_found`, which would tell a client to start a session that era does not have.
 * A real hub on loopback; the requests on the wire as a 2026 client sends them, and the v2 SDK
 * client negotiating 2026-07-28.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { modernEnvelope, modernHeaders } from '../helpers/raw-mcp.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { WITH_TASKS } from './tasks-helpers.js';

describe('an unknown method on a 2026-07-28 request', () => {
  let h: RunningHub;

  beforeAll(async () => {
    h = await startHub({ fixtures: { conformance: true } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const post = async (method: string, params: Record<string, unknown>) => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: modernHeaders(h.token, method),
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { _meta: modernEnvelope(WITH_TASKS), ...params } }),
    });
    return { status: res.status, body: (await res.json()) as { id: unknown; error?: { code: number; message: string; data?: unknown } } };
  };

  it.each([
    ['tasks/list', {}],
    ['tasks/result', { taskId: 'task_AAAAAAAAAAAAAAAAAAAAAA' }],
    ['no/such', {}],
  ])('%s: HTTP 404, -32601, data.code not_found', async (method, params) => {
    const r = await post(method, params);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ id: 7, error: { code: -32601, message: expect.any(String), data: { code: 'not_found' } } });
  });

  it('the v2 SDK client sees the same code', async () => {
    const client = new Client({ name: 'unknown-method', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${h.token}` } } }));
    try {
      const asked = client.request({ method: 'no/such', params: {} }, z.object({}).loose());
      await expect(asked).rejects.toMatchObject({ data: { status: 404, text: expect.stringContaining('"code":"not_found"') } });
    } finally {
      await client.close();
    }
  });
});
