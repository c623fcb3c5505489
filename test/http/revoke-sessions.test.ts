import { Client, StreamableHTTPClientTransport, type McpSubscription } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { runCli, startHub, type RunningHub } from '../helpers/hub.js';
import { ping, rawSessionWithStream } from '../helpers/raw-mcp.js';

const TEXT = 'This is a simple text response for testing.';
/** The clients surface the 401's body; its OAuth error code is the stable part. */
const REVOKED = /"error":"invalid_token"/;

async function modernListener(url: string, token: string): Promise<{ client: Client; sub: McpSubscription }> {
  const client = new Client({ name: 'revoke', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  return { client, sub: await client.listen({ toolsListChanged: true }) };
}

/** 'open' when the promise has not settled by the time already-queued I/O has run. */
async function stillOpen(p: Promise<unknown>): Promise<'open' | 'closed'> {
  await new Promise((r) => setImmediate(r));
  return Promise.race([p.then(() => 'closed' as const), new Promise<'open'>((r) => setImmediate(() => r('open')))]);
}

describe('revoking a token closes what it holds open', () => {
  let h: RunningHub;
  const toClose: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    h = await startHub({ fixtures: { conformance: true } });
  });
  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((c) => c.close().catch(() => {})));
  });
  afterAll(async () => h?.stop());

  async function user(name: string): Promise<{ token: string; id: string }> {
    const { token, record } = await h.hub.tokens.create({ user: name });
    return { token, id: record.id };
  }

  async function everything(token: string) {
    const legacy = await connectClient('v2-legacy', { transport: 'http', url: h.url, token });
    const v1 = await connectClient('v1', { transport: 'http', url: h.url, token });
    const raw = await rawSessionWithStream(h.url, token);
    const modern = await modernListener(h.url, token);
    toClose.push(legacy, v1, modern.client);
    return { legacy, v1, raw, modern };
  }

  async function stillWorks(
    c: { legacy: FaceClient; v1: FaceClient; raw: { sessionId: string; ended: Promise<unknown> }; modern: { client: Client; sub: McpSubscription } },
    token: string,
  ) {
    expect(textOf(await c.legacy.callTool('test_simple_text', {}))).toBe(TEXT);
    expect(textOf(await c.v1.callTool('test_simple_text', {}))).toBe(TEXT);
    expect(await ping(h.url, token, c.raw.sessionId)).toEqual({ status: 200, body: expect.stringContaining('"result":{}') });
    expect(await stillOpen(c.raw.ended)).toBe('open');
    expect(await stillOpen(c.modern.sub.closed)).toBe('open');
    const r = await c.modern.client.callTool({ name: 'test_simple_text', arguments: {} });
    expect(r.content).toEqual([{ type: 'text', text: TEXT }]);
  }

  it('`switchboard tokens revoke` in another process closes the sessions and streams of that token within 2 s; others are unaffected', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const a = await everything(alice.token);
    const b = await everything(bob.token);
    await stillWorks(a, alice.token);

    const cli = await runCli(['tokens', 'revoke', alice.id, '--data', h.dataDir], h.dataDir);
    expect(cli).toEqual({
      code: 0,
      stdout: `revoked ${alice.id}\n`,
      stderr: expect.stringMatching(/Hubs on this data dir refuse it from now on and close its open sessions and streams within 2 s\.\n$/),
    });
    const revokedAt = Date.now();
    expect(await a.raw.ended).toBe('ended');
    expect(await a.modern.sub.closed).toBe('remote');
    // The poll runs every second; the bound leaves room for a busy machine.
    expect(Date.now() - revokedAt).toBeLessThan(2_500);

    // Every request with the revoked token is refused, on its old session or a new one.
    expect(await ping(h.url, alice.token, a.raw.sessionId)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    await expect(a.legacy.callTool('test_simple_text', {})).rejects.toThrow(REVOKED);
    await expect(a.v1.callTool('test_simple_text', {})).rejects.toThrow(REVOKED);
    await expect(a.modern.client.callTool({ name: 'test_simple_text', arguments: {} })).rejects.toThrow(REVOKED);
    await expect(connectClient('v1', { transport: 'http', url: h.url, token: alice.token })).rejects.toThrow(REVOKED);

    await stillWorks(b, bob.token);
  });

  it('a revocation in this process closes them at once', async () => {
    const carol = await user('carol');
    const dave = await user('dave');
    const c = await everything(carol.token);
    const d = await everything(dave.token);

    expect(await h.hub.tokens.revoke(carol.id)).toBe(true);
    expect(await Promise.all([c.raw.ended, c.modern.sub.closed])).toEqual(['ended', 'remote']);
    expect(await ping(h.url, carol.token, c.raw.sessionId)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    await stillWorks(d, dave.token);
  });

  it('a session answers only the token that opened it, so another token of the same user cannot keep it alive', async () => {
    const first = await user('erin');
    const second = await user('erin');
    const s = await rawSessionWithStream(h.url, first.token);
    expect(await ping(h.url, second.token, s.sessionId)).toEqual({
      status: 404,
      body: { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found', data: { code: 'session_not_found' } } },
    });
    await h.hub.tokens.revoke(first.id);
    expect(await s.ended).toBe('ended');
    expect(await ping(h.url, second.token, s.sessionId)).toEqual({
      status: 404,
      body: { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found', data: { code: 'session_not_found' } } },
    });
  });
});
