import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/**
 * A provider that refuses with HTTP 200 and `"ok": false`, as Slack's Web API does
 * (`{"ok":false,"error":"channel_not_found"}`), declared with the integration's `refusal` block:
 * a read answers an isError result naming the provider's reason, a queued write fails at once
 * (sent once, never again) and its caller reads why, and an `ok: true` answer is a success.
 */
describe("a provider's refusal in a 2xx answer (Slack's ok:false)", () => {
  let api: LocalApi;
  /** Every request the provider got: method, path and body. */
  const seen: Array<{ method: string; path: string; body: string }> = [];
  let hub: RunningHub;
  let bobToken: string;

  beforeAll(async () => {
    api = await localApi((req, body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ method: req.method ?? '', path: url.pathname, body });
      const channel = url.searchParams.get('channel') ?? (body ? (JSON.parse(body) as { channel?: string }).channel : undefined);
      const answer = channel === 'general' ? { ok: true, channel: { id: 'C1', name: channel }, ts: '1.0' } : { ok: false, error: 'channel_not_found' };
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer));
    });
    const base = `${api.origin}/api`;
    const channel = { type: 'object', properties: { channel: { type: 'string' } }, required: ['channel'] };
    hub = await startHub({
      integrations: {
        chat: {
          type: 'custom',
          title: 'Chat',
          apiBaseUrl: base,
          auth: { type: 'apiKey', prefix: 'Bearer ', value: 'xoxb-test' },
          refusal: { okAt: 'ok', messageAt: 'error' },
          tools: {
            info: { description: 'A channel', method: 'GET', path: '/conversations.info', readOnly: true, input: channel },
            post: {
              description: 'Posts a message',
              method: 'POST',
              path: '/chat.postMessage',
              input: { ...channel, properties: { ...channel.properties, text: { type: 'string' } } },
            },
          },
        },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  const client = (token: string) => bearerClient(hub.url, token, 'refusal-test');

  const text = (r: unknown) => ((r as { content: Array<{ text: string }> }).content[0]?.text ?? '').split('\n')[0];

  it('reads: ok:false is an isError result with the reason, ok:true the data; two users side by side', async () => {
    const [alice, bob] = await Promise.all([client(hub.token), client(bobToken)]);
    try {
      const [a, b] = await Promise.all([
        alice.callTool({ name: 'chat__info', arguments: { channel: 'nope' } }),
        bob.callTool({ name: 'chat__info', arguments: { channel: 'general' } }),
      ]);
      expect(a.isError).toBe(true);
      expect(text(a)).toBe('Chat refused GET /conversations.info (channel_not_found): {"ok":false,"error":"channel_not_found"}');
      expect(b.isError).toBeFalsy();
      expect(b.structuredContent).toMatchObject({ ok: true, channel: { name: 'general' } });
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('writes: a refused one fails at once and is sent once; an accepted one is done', async () => {
    const [alice, bob] = await Promise.all([client(hub.token), client(bobToken)]);
    try {
      seen.length = 0;
      const [a, b] = await Promise.all([
        alice.callTool({ name: 'chat__post', arguments: { channel: 'nope', text: 'hello' } }),
        bob.callTool({ name: 'chat__post', arguments: { channel: 'general', text: 'hi' } }),
      ]);
      expect(a.isError).toBe(true);
      expect(text(a)).toBe('Chat refused POST /chat.postMessage (channel_not_found): {"ok":false,"error":"channel_not_found"}');
      expect(b.isError).toBeFalsy();
      const jobs = await hub.hub.outbox.outbox.list({ integration: 'chat' });
      expect(jobs.find((j) => j.user !== 'bob')).toMatchObject({ state: 'failed', attempts: 1, lastError: 'the provider refused it: channel_not_found' });
      expect(jobs.find((j) => j.user === 'bob')).toMatchObject({ state: 'done', attempts: 1 });
      expect(seen.filter((s) => s.path === '/api/chat.postMessage')).toHaveLength(2);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
