import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

describe('/mcp methods', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub();
  });
  afterAll(async () => h.stop());

  it('answers a method the transport does not take with 405 and the methods it does, after the token check', async () => {
    for (const method of ['PUT', 'PATCH', 'HEAD', 'OPTIONS']) {
      const res = await fetch(h.url, { method, headers: { authorization: `Bearer ${h.token}`, 'mcp-protocol-version': '2025-11-25' } });
      const body = method === 'HEAD' ? '' : await res.text();
      expect([method, res.status, res.headers.get('allow')]).toEqual([method, 405, 'GET, POST, DELETE']);
      if (method !== 'HEAD') expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600, data: { code: 'bad_request' } } });
    }
    // Without a token the answer is still the 401 that says how to sign in.
    const anonymous = await fetch(h.url, { method: 'PUT' });
    await anonymous.body?.cancel();
    expect(anonymous.status).toBe(401);
  });

  it('keeps GET, POST and DELETE to the transport', async () => {
    const get = await fetch(h.url, { headers: { authorization: `Bearer ${h.token}` } });
    await get.body?.cancel();
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const del = await fetch(h.url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.token}`, 'mcp-session-id': 'nope', 'mcp-protocol-version': '2025-11-25' },
    });
    await del.body?.cancel();
    expect(del.status).toBe(404);
  });
});
