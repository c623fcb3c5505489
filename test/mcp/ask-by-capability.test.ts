/**
 * What a call's caller declared decides what reaches it, and what it cancelled stays cancelled:
 * a form-only client (a bare `elicitation: {}`, as the AI SDK declares) is never sent a
 * downstream's URL-mode elicitation — it is told which capability it lacks — and a 2026-07-28
 * call cancelled while its downstream session is still starting is never sent.
 */
import type { ChildProcess } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAskingHttp } from '../helpers/asking.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

let hub: RunningHub;
let asking: { url: string; child: ChildProcess };
let slow: { url: string; child: ChildProcess };
beforeAll(async () => {
  asking = await spawnAskingHttp('--v1-http');
  slow = await spawnAskingHttp('--v1-http', { ASKING_INIT_DELAY_MS: '1500' });
  hub = await startHub({ mcpServers: { v1h: { url: asking.url }, slow: { url: slow.url } } });
});
afterAll(async () => {
  await hub?.stop();
  asking?.child.kill();
  slow?.child.kill();
});

async function connect(user: string, capabilities: Record<string, unknown>, mode: 'legacy' | 'auto', seen: string[] = []): Promise<Client> {
  const token = (await hub.hub.tokens.create({ user })).token;
  const client = new Client({ name: user, version: '1.0.0' }, { capabilities, versionNegotiation: { mode } });
  if ('elicitation' in capabilities)
    client.setRequestHandler('elicitation/create', async (req) => {
      seen.push(req.params.mode ?? 'form');
      return { action: 'accept' };
    });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('a downstream asking its caller', () => {
  it('a URL elicitation never reaches a form-only 2025 client, which is told it lacks elicitation.url; a client with URL mode gets it', async () => {
    const seen: string[] = [];
    const formOnly = await connect('form-only', { elicitation: {} }, 'legacy', seen);
    try {
      const outcome = await formOnly.callTool({ name: 'v1h__open_page', arguments: { account: 'A-1' } }).then(
        (r) => ({ result: r }),
        (err: unknown) => ({ error: err as { code?: number; message?: string } }),
      );
      expect(outcome).toMatchObject({ error: { code: -32021, message: expect.stringContaining('elicitation.url') } });
      expect(seen).toEqual([]);
    } finally {
      await formOnly.close();
    }
    const both = await connect('both-modes', { elicitation: { form: {}, url: {} } }, 'legacy', seen);
    try {
      const r = await both.callTool({ name: 'v1h__open_page', arguments: { account: 'A-2' } });
      expect(r.content).toEqual([{ type: 'text', text: 'accept' }]);
      expect(seen).toEqual(['url']);
    } finally {
      await both.close();
    }
  });

  it('a 2026-07-28 call cancelled while its downstream session starts is never sent', async () => {
    const client = await connect('canceller', {}, 'auto');
    try {
      const abort = new AbortController();
      const call = client.callTool({ name: 'slow__hold', arguments: { ms: 10 } }, { signal: abort.signal });
      // The session's initialize is answered only after 1.5 s: the cancel comes while the hub waits for it.
      setTimeout(() => abort.abort(new Error('the user gave up')), 200);
      await expect(call).rejects.toThrow();
      // Once the session is up (a later call of the same user is answered), the cancelled one has had every chance to be sent.
      const after = await client.callTool({ name: 'slow__ping_back', arguments: { n: 1 } });
      expect(after.content).toEqual([{ type: 'text', text: 'pong 1' }]);
      expect(await (await fetch(new URL('/held', slow.url))).text()).toBe('0');
    } finally {
      await client.close();
    }
  });
});
