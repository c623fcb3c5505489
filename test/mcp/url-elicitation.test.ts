import type { ChildProcess } from 'node:child_process';
import { type CallToolResult, Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ASKING, spawnAskingHttp } from '../helpers/asking.js';

/**
 * A downstream asks its user to open a link before a call can go on (URL elicitation): a 2025-era
 * server with the `-32042` error, a 2026-capable one with an `input_required` result. Through the
 * hub, each caller is asked the way its own era asks, follows the link, calls again and gets the
 * answer; two users side by side each see only their own link.
 */
const linkOf = (account: string) => `https://accounts.example.test/link/${encodeURIComponent(account)}`;

interface UserClient {
  client: Client;
  era: 'legacy' | 'auto';
  /** The links this user was asked to open, however its era asked. */
  opened: string[];
}

async function connect(hub: RunningHub, token: string, user: string, era: 'legacy' | 'auto', url = true): Promise<UserClient> {
  const opened: string[] = [];
  const client = new Client(
    { name: `${user}-${era}`, version: '1.0.0' },
    { capabilities: { elicitation: url ? { form: {}, url: {} } : { form: {} } }, versionNegotiation: { mode: era } },
  );
  client.setRequestHandler('elicitation/create', async (req) => {
    if (req.params.mode === 'url') opened.push(req.params.url);
    return { action: 'accept' };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { client, era, opened };
}

/**
 * Calls `link` as a client of its era does: a 2025 client that gets -32042 opens the links and
 * calls again, once; a 2026-07-28 client knows no such error (its SDK answers input_required itself).
 */
async function callLink(u: UserClient, tool: string, account: string): Promise<CallToolResult> {
  const call = () => u.client.callTool({ name: tool, arguments: { account } }) as Promise<CallToolResult>;
  if (u.era === 'auto') return call();
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== -32042) throw err;
    const listed = (err.data as { elicitations?: { url: string }[] } | undefined)?.elicitations ?? [];
    for (const e of listed) u.opened.push(e.url);
    return call();
  }
}

function text(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : JSON.stringify(result);
}

describe('a server’s URL elicitation through the hub, every era pairing', () => {
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
        v1s: { command: process.execPath, args: [ASKING, '--v1-stdio'] },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    await hub?.stop();
    for (const c of children) c.kill('SIGTERM');
  });

  for (const server of ['v1h', 'v2h', 'v1s']) {
    for (const [aliceEra, bobEra] of [
      ['legacy', 'auto'],
      ['auto', 'legacy'],
    ] as const) {
      it(`${server}: alice on ${aliceEra}, bob on ${bobEra}`, async () => {
        const alice = await connect(hub, hub.token, 'alice', aliceEra);
        const bob = await connect(hub, bobToken, 'bob', bobEra);
        const a = `alice-${server}-${aliceEra}`;
        const b = `bob-${server}-${bobEra}`;
        try {
          const [ra, rb] = await Promise.all([callLink(alice, `${server}__link`, a), callLink(bob, `${server}__link`, b)]);
          expect(text(ra)).toBe(`linked ${a}`);
          expect(text(rb)).toBe(`linked ${b}`);
          expect(alice.opened).toEqual([linkOf(a)]);
          expect(bob.opened).toEqual([linkOf(b)]);
        } finally {
          await alice.client.close();
          await bob.client.close();
        }
      });
    }
  }

  it('a 2026-07-28 caller without URL elicitation is told the link in an error result, not sent -32042', async () => {
    const carol = await connect(hub, hub.token, 'alice', 'auto', false);
    try {
      const account = 'no-url-capability';
      const result = await callLink(carol, 'v1h__link', account);
      expect(result.isError).toBe(true);
      expect(text(result)).toContain(linkOf(account));
      expect(carol.opened).toEqual([]);
    } finally {
      await carol.client.close();
    }
  });
});
