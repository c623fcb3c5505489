import type { ChildProcess } from 'node:child_process';
import { type CallToolResult, Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { ASKING, spawnAskingHttp } from '../helpers/asking.js';

/**
 * Two users call one downstream at the same time and each answers the elicitation and sampling
 * its own call raises: every answer must reach its own call, and no user sees the other's prompt.
 */

interface UserClient {
  client: Client;
  /** Every prompt this user was shown: elicitation messages and sampling texts. */
  seen: string[];
}

async function connect(hub: RunningHub, token: string, user: string, era: 'legacy' | 'auto'): Promise<UserClient> {
  const seen: string[] = [];
  const client = new Client(
    { name: `${user}-${era}`, version: '1.0.0' },
    { capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} }, versionNegotiation: { mode: era } },
  );
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: `file:///home/${user}/project`, name: `${user}'s project` }] }));
  client.setRequestHandler('elicitation/create', async (req) => {
    seen.push(req.params.message);
    // The answer names what it answers, so a test can tell two calls of one user apart.
    return { action: 'accept', content: { who: `${user} re ${req.params.message}` } };
  });
  client.setRequestHandler('sampling/createMessage', async (req) => {
    const first = req.params.messages[0]?.content;
    const text = first && !Array.isArray(first) && first.type === 'text' ? first.text : '?';
    seen.push(text);
    return { role: 'assistant', model: 'test', content: { type: 'text', text: `sample by ${user} re ${text}` } };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { client, seen };
}

/** What `transfer` returns when `user` answered the call for `account` itself. */
function answered(user: string, account: string) {
  return { account, who: `${user} re Confirm transfer for ${account}`, sampled: `sample by ${user} re Summarize ${account}` };
}

function parsed(result: unknown): unknown {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  const text = content?.[0]?.text;
  try {
    return JSON.parse(text ?? '');
  } catch {
    return { raw: result };
  }
}

/** Starts a `hold` on `holder` and resolves once it is in flight (its first progress arrived); wrapped, or awaiting this would await the hold. */
async function holding(holder: UserClient): Promise<{ held: Promise<CallToolResult> }> {
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  const held = holder.client.callTool({ name: 'v1shared__hold', arguments: { ms: 1500 } }, { onprogress: () => started() });
  await inFlight;
  return { held: held as Promise<CallToolResult> };
}

describe('server→client requests reach only their own call', () => {
  let hub: RunningHub;
  let bobToken: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const v1 = await spawnAskingHttp('--v1-http');
    const v2 = await spawnAskingHttp('--v2-http');
    children.push(v1.child, v2.child);
    hub = await startHub({
      mcpServers: {
        v1h: { url: v1.url },
        v2h: { url: v2.url },
        v1s: { command: process.execPath, args: [ASKING, '--v1-stdio'], isolation: 'user' },
        v2s: { command: process.execPath, args: [ASKING, '--v2-stdio'] },
        v1shared: { command: process.execPath, args: [ASKING, '--v1-stdio'] },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    for (const c of children) c.kill('SIGTERM');
  });

  const pairings = [
    { alice: 'legacy', bob: 'auto' },
    { alice: 'auto', bob: 'legacy' },
    { alice: 'legacy', bob: 'legacy' },
    { alice: 'auto', bob: 'auto' },
  ] as const;

  for (const server of ['v1h', 'v2h', 'v1s', 'v2s']) {
    for (const p of pairings) {
      it(`${server}: alice on ${p.alice}, bob on ${p.bob}`, async () => {
        const alice = await connect(hub, hub.token, 'alice', p.alice);
        const bob = await connect(hub, bobToken, 'bob', p.bob);
        try {
          const [a, b] = await Promise.all([
            alice.client.callTool({ name: `${server}__transfer`, arguments: { account: 'A-private-account-1234' } }),
            bob.client.callTool({ name: `${server}__transfer`, arguments: { account: 'B-account-5678' } }),
          ]);
          expect(parsed(a)).toEqual(answered('alice', 'A-private-account-1234'));
          expect(parsed(b)).toEqual(answered('bob', 'B-account-5678'));
          expect(alice.seen.sort()).toEqual(['Confirm transfer for A-private-account-1234', 'Summarize A-private-account-1234']);
          expect(bob.seen.sort()).toEqual(['Confirm transfer for B-account-5678', 'Summarize B-account-5678']);
        } finally {
          await alice.client.close();
          await bob.client.close();
        }
      });
    }
  }

  // A 2025-era server asks its caller's roots during the call: each user's call hears its own, in
  // both eras (a 2026-07-28 caller answers them as input_required). A stdio process all users
  // share is not told of roots at all: it would keep the first answer for everyone.
  for (const p of pairings) {
    it(`roots: v1h and v1s, alice on ${p.alice}, bob on ${p.bob}; v1shared declines`, async () => {
      const alice = await connect(hub, hub.token, 'alice', p.alice);
      const bob = await connect(hub, bobToken, 'bob', p.bob);
      try {
        for (const server of ['v1h', 'v1s']) {
          const [a, b] = await Promise.all([
            alice.client.callTool({ name: `${server}__roots`, arguments: {} }),
            bob.client.callTool({ name: `${server}__roots`, arguments: {} }),
          ]);
          expect([server, parsed(a), parsed(b)]).toEqual([server, ['file:///home/alice/project'], ['file:///home/bob/project']]);
        }
        const shared = (await alice.client.callTool({ name: 'v1shared__roots', arguments: {} })) as CallToolResult;
        expect(shared.isError).toBe(true);
        expect(JSON.stringify(shared)).not.toContain('file:///home/');
      } finally {
        await alice.client.close();
        await bob.client.close();
      }
    });
  }

  it('a shared stdio server with calls of two users in flight: the request is refused, never guessed', async () => {
    const alice = await connect(hub, hub.token, 'alice', 'legacy');
    const bob = await connect(hub, bobToken, 'bob', 'legacy');
    try {
      const { held } = await holding(bob);
      const a = await alice.client.callTool({ name: 'v1shared__transfer', arguments: { account: 'A-private-account-1234' } });
      expect(a.isError).toBe(true);
      expect(JSON.stringify(a.content)).toContain('cannot tell which one it belongs to');
      expect(JSON.stringify(a.content)).toContain('isolation');
      expect((await held).content).toEqual([{ type: 'text', text: 'held' }]);
      expect(alice.seen).toEqual([]);
      expect(bob.seen).toEqual([]);
      // Alone in flight, the same call is related to its caller and goes through.
      const again = await alice.client.callTool({ name: 'v1shared__transfer', arguments: { account: 'A-private-account-1234' } });
      expect(parsed(again)).toEqual(answered('alice', 'A-private-account-1234'));
    } finally {
      await alice.client.close();
      await bob.client.close();
    }
  });

  it('passes the declared capabilities of a 2026 caller on: without sampling the server refuses as it would directly', async () => {
    const client = new Client({ name: 'no-sampling', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'auto' } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { who: 'alice' } }));
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      const outcome = await client.callTool({ name: 'v2h__transfer', arguments: { account: 'A-1' } }).then(
        (r) => ({ result: r }),
        (err: unknown) => ({ error: err as { code?: number; message?: string } }),
      );
      expect(outcome).toMatchObject({ error: { code: -32021 } });
    } finally {
      await client.close();
    }
  });

  for (const server of ['v2h']) {
    it(`${server}: a 2025 client's resources/subscribe on a 2026 server delivers its updates`, async () => {
      const alice = await connect(hub, hub.token, 'alice', 'legacy');
      try {
        const updates: string[] = [];
        alice.client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
        await alice.client.subscribeResource({ uri: 'asking://counter' });
        await alice.client.callTool({ name: `${server}__bump`, arguments: {} });
        await eventually(() => updates.length > 0);
        expect(updates[0]).toBe('asking://counter');
        await alice.client.unsubscribeResource({ uri: 'asking://counter' });
      } finally {
        await alice.client.close();
      }
    });
  }

  for (const server of ['v1h', 'v2h']) {
    it(`${server}: two calls of one user at once, from two clients, each get their own answers`, async () => {
      const first = await connect(hub, hub.token, 'alice', 'legacy');
      const second = await connect(hub, hub.token, 'alice', 'auto');
      try {
        const [a, b] = await Promise.all([
          first.client.callTool({ name: `${server}__transfer`, arguments: { account: 'A-1' } }),
          second.client.callTool({ name: `${server}__transfer`, arguments: { account: 'A-2' } }),
        ]);
        expect(parsed(a)).toEqual(answered('alice', 'A-1'));
        expect(parsed(b)).toEqual(answered('alice', 'A-2'));
        expect(first.seen.sort()).toEqual(['Confirm transfer for A-1', 'Summarize A-1']);
        expect(second.seen.sort()).toEqual(['Confirm transfer for A-2', 'Summarize A-2']);
      } finally {
        await first.client.close();
        await second.client.close();
      }
    });
  }
});

describe('one client’s parallel calls to a shared server', () => {
  let hub: RunningHub;

  beforeAll(async () => {
    hub = await startHub({ mcpServers: { v1shared: { command: process.execPath, args: [ASKING, '--v1-stdio'] } } });
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('a request raised during one of them reaches that client: it answers whichever call it serves', async () => {
    const alice = await connect(hub, hub.token, 'alice', 'legacy');
    try {
      const { held } = await holding(alice);
      const a = await alice.client.callTool({ name: 'v1shared__transfer', arguments: { account: 'A-1' } });
      expect(parsed(a)).toEqual(answered('alice', 'A-1'));
      expect(alice.seen.sort()).toEqual(['Confirm transfer for A-1', 'Summarize A-1']);
      expect(await held).toMatchObject({ content: [{ type: 'text', text: 'held' }] });
    } finally {
      await alice.client.close();
    }
  });

  it('the same user’s two clients: still refused, since either client could be shown the other’s prompt', async () => {
    const first = await connect(hub, hub.token, 'alice', 'legacy');
    const second = await connect(hub, hub.token, 'alice', 'legacy');
    try {
      const { held } = await holding(first);
      const a = await second.client.callTool({ name: 'v1shared__transfer', arguments: { account: 'A-2' } });
      expect(a.isError).toBe(true);
      expect(JSON.stringify(a.content)).toContain('cannot tell which one it belongs to');
      expect(first.seen).toEqual([]);
      expect(second.seen).toEqual([]);
      await held;
    } finally {
      await first.client.close();
      await second.client.close();
    }
  });
});
