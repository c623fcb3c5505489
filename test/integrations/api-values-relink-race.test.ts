/**
 * A request of a connection goes with the token of the base it was bound to (README: A base per
 * linked account): a call whose base was read before a relink to another site, and whose token is
 * read after it (its refresh outlasted the relink), sent the new site's token to the old site.
 * The old site refused it, its refresh was refused there too, and the connection just linked was
 * moved to needs_reauth. Now the call sees the base moved, sends nothing there, and says to call
 * again; the connection stays active and the next call reaches the new site. A queued write in
 * that place fails at once, sent to neither site (test/integrations/api-values-queued-relink.test.ts).
 * Two Salesforce-like instances on loopback (127.0.0.1 and localhost) that take only their own tokens.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const servers: Server[] = [];
/** Every API request: the site it reached and the token it carried. */
const seen: string[] = [];
const site: Record<'a' | 'b', string> = { a: '', b: '' };
/** The token endpoint's answer to a refresh, held until the test lets it go. */
let heldRefresh: { arrived: Promise<void>; release: () => void } | undefined;
let hub: RunningHub;
let client: FaceClient;

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

async function listen(host: string, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const s = createServer(handle);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return (s.address() as AddressInfo).port;
}

/** An instance answers only the tokens issued for it (`at-a-…` on a), as Salesforce's INVALID_SESSION_ID. */
const instance = (name: 'a' | 'b') => (req: IncomingMessage, res: ServerResponse) => {
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  seen.push(`${name} ${token}`);
  if (!token.startsWith(`at-${name}-`)) return json(res, 401, [{ errorCode: 'INVALID_SESSION_ID' }]);
  json(res, 200, { site: name });
};

beforeAll(async () => {
  let refreshes = 0;
  const oauth = await listen('127.0.0.1', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', async () => {
      const rt = new URLSearchParams(body).get('refresh_token') ?? '';
      const name = /^rt-(a|b)/.exec(rt)?.[1] ?? 'x';
      if (heldRefresh) {
        const held = heldRefresh;
        heldRefresh = undefined;
        held.release();
        await held.arrived;
      }
      json(res, 200, { access_token: `at-${name}-${++refreshes}`, refresh_token: rt, token_type: 'Bearer', expires_in: 3600 });
    });
  });
  site.a = `http://127.0.0.1:${await listen('127.0.0.1', instance('a'))}`;
  site.b = `http://localhost:${await listen('localhost', instance('b'))}`;
  hub = await startHub({
    integrations: {
      sf: {
        type: 'custom',
        title: 'Salesforce',
        oauth: { authorizeUrl: `http://127.0.0.1:${oauth}/authorize`, tokenUrl: `http://127.0.0.1:${oauth}/token`, clientId: 'hub', clientSecret: 's' },
        apiBaseUrl: '{instanceUrl}/services/data/v61.0',
        account: { values: { instanceUrl: 'token:instance_url' } },
        allowedHosts: ['127.0.0.1', 'localhost'],
        tools: {
          whoami: { description: 'Who am I.', method: 'GET', path: '/whoami', readOnly: true },
          create: { description: 'Creates a record.', method: 'POST', path: '/records', input: { type: 'object', properties: { name: { type: 'string' } } } },
        },
      },
    },
  });
  client = await connectClient('v2-legacy', { transport: 'http', url: hub.url, token: hub.token });
});
afterAll(async () => {
  await client.close();
  await hub.stop();
  for (const s of servers) await new Promise((r) => s.close(r));
});

const link = (name: 'a' | 'b', expiresAt: number) =>
  hub.hub.integrations.connections.link({
    tenant: 'default',
    user: 'alice',
    integration: 'sf',
    tokens: { accessToken: `at-${name}-0`, refreshToken: `rt-${name}`, tokenType: 'Bearer', expiresAt },
    scopes: [],
    apiValues: { instanceUrl: site[name] },
  });

/** Holds the next refresh at the token endpoint: `reached` once it arrives, `letGo` to answer it. */
function holdRefresh(): { reached: Promise<void>; letGo: () => void } {
  let letGo!: () => void;
  let reached!: () => void;
  const r = new Promise<void>((res) => (reached = res));
  heldRefresh = { arrived: new Promise<void>((res) => (letGo = res)), release: () => reached() };
  return { reached: r, letGo };
}

it('a queued write bound to the old site before a relink is sent to neither site, and fails at once saying so', async () => {
  seen.length = 0;
  await link('a', Date.now() - 60_000);
  const held = holdRefresh();
  const call = client.callTool('sf__create', { name: 'r1' });
  await held.reached;
  const relinked = await link('b', Date.now() + 3_600_000);
  held.letGo();
  const r = await call;
  expect(r).toMatchObject({ isError: true, errorCode: 'source_unavailable' });
  expect(textOf(r)).toContain('linked again to another site after this write was queued; nothing was sent to either site');
  // Not queued again for the new site either: it was made for the old one.
  expect(seen, JSON.stringify(seen)).toEqual([]);
  const [job] = await hub.hub.outbox.outbox.list({ user: 'alice', limit: 1 });
  expect(job).toMatchObject({ state: 'failed', lastErrorCode: 'source_unavailable' });
  expect(await hub.hub.integrations.connections.get(relinked.id)).toMatchObject({ state: 'active', apiValues: { instanceUrl: site.b } });
});

it("a call bound to the old site before a relink sends the new site's token nowhere, and the relinked connection stays active", async () => {
  seen.length = 0;
  const repo = hub.hub.integrations.connections;
  // Linked to a with an expired token: the call reads its base (a), then refreshes the token.
  await link('a', Date.now() - 60_000);
  const held = holdRefresh();
  const call = client.callTool('sf__whoami', {});
  await held.reached;
  // While the refresh is held, alice links her account again, to the org on b.
  const relinked = await link('b', Date.now() + 3_600_000);
  held.letGo();
  const r = await call;

  expect(
    seen.filter((s) => s.startsWith('a at-b')),
    JSON.stringify(seen),
  ).toEqual([]);
  expect(r.isError, textOf(r)).toBe(true);
  expect(textOf(r)).toContain('linked again');
  expect(await repo.get(relinked.id)).toMatchObject({ state: 'active', apiValues: { instanceUrl: site.b } });
  const again = await client.callTool('sf__whoami', {});
  expect(again.isError, textOf(again)).toBe(false);
  expect(textOf(again)).toMatch(/"site": ?"b"/);
});
