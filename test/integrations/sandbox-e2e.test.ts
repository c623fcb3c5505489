import { randomUUID } from 'node:crypto';
import type { CallToolResult, Tool } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Connection } from '../../src/connections/types.js';
import { DEFAULT_TENANT, type Identity } from '../../src/identity/identity.js';
import { META_CONNECTION } from '../../src/integrations/source.js';
import { argumentRefusal, connectClient } from '../helpers/clients.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, confirmLink, followLink, locationOf } from './browser.js';
import { connectMcp, rejection, textOf, type ConnectOptions, type McpUser } from './mcp.js';
import { me, recentEvents, ticket, ticketPage } from './sandbox-shapes.js';

/**
 * The sandbox integration end to end, as a user meets it: an MCP client calls a sandbox tool
 * before any account is linked, gets a link in the form its protocol era supports, the link is
 * opened in a browser (hub → sandbox consent → hub callback), and the same call then returns the
 * sandbox's data. The hub mounts the sandbox provider itself, so everything runs over loopback.
 */

// recent_events: the sandbox sends webhooks and is polled, so its events are a tool too.
const SANDBOX_TOOLS = ['whoami', 'list_tickets', 'get_ticket', 'create_ticket', 'update_ticket', 'delete_ticket', 'recent_events'].map((t) => `sandbox__${t}`);
const LINK = /http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

let hub: RunningHub;
let origin: string;
const open: McpUser[] = [];

beforeAll(async () => {
  hub = await startHub({ integrations: { sandbox: {} } });
  origin = new URL(hub.url).origin;
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
});
afterAll(() => hub.stop());

/** A fresh hub user (so every test starts unlinked) with an API token, and a client for it. */
async function newUser(opts: ConnectOptions): Promise<{ identity: Identity; mcp: McpUser; token: string }> {
  const user = `u-${randomUUID().slice(0, 8)}`;
  const { token } = await hub.hub.tokens.create({ user });
  const mcp = await connectMcp(hub.url, token, opts);
  open.push(mcp);
  return { identity: { tenant: DEFAULT_TENANT, user, scopes: [] }, mcp, token };
}

function connectionOf(identity: Identity): Promise<Connection | undefined> {
  return hub.hub.integrations.accounts.connections.find(identity.tenant, identity.user, 'sandbox');
}

function connectionStates(tools: Tool[]): Record<string, unknown> {
  return Object.fromEntries(tools.filter((t) => t.name.startsWith('sandbox__')).map((t) => [t.name, t._meta?.[META_CONNECTION]]));
}

const allIn = (state: string) => Object.fromEntries(SANDBOX_TOOLS.map((n) => [n, state]));

function linkIn(text: string): string {
  const m = LINK.exec(text);
  if (!m) throw new Error(`no link in: ${text}`);
  return m[0];
}

function json<T>(schema: z.ZodType<T>, r: CallToolResult): T {
  expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
  return schema.parse(r.structuredContent);
}

/** Once linked: list_changed reaches the client, the tools say active, and the tools reach the sandbox as `username`. */
async function expectWorkingLink(mcp: McpUser, identity: Identity, username: string, changesBefore: number): Promise<void> {
  await eventually(() => mcp.toolListChanges > changesBefore);
  expect(connectionStates(await mcp.tools())).toEqual(allIn('active'));
  expect(await connectionOf(identity)).toMatchObject({ state: 'active', scopes: ['read', 'write'] });
  expect(json(me, await mcp.call('sandbox__whoami'))).toEqual({ username, scopes: ['read', 'write'] });
  const title = `printer on fire ${randomUUID().slice(0, 6)}`;
  const created = json(ticket, await mcp.call('sandbox__create_ticket', { title, priority: 'urgent' }));
  expect(created).toMatchObject({ title, priority: 'urgent', status: 'open', body: '' });
  const listed = json(ticketPage, await mcp.call('sandbox__list_tickets', { limit: 10 }));
  expect(listed.tickets.map((t) => t.id)).toContain(created.id);
  // The change comes back as an event (the sandbox's webhook to the hub, or its poller), once.
  const createdEvents = async () => {
    const page = recentEvents.parse((await mcp.call('sandbox__recent_events', { type: 'ticket.created', limit: 100 })).structuredContent);
    return page.events.filter((e) => e.payload.data.ticket.id === created.id);
  };
  await eventually(async () => (await createdEvents()).length > 0);
  expect((await createdEvents()).map((e) => e.integration)).toEqual(['sandbox']);
}

describe('sandbox integration from an MCP client', () => {
  it('lists every sandbox tool before anything is linked, marked unlinked', async () => {
    const { mcp } = await newUser({ era: 'auto' });
    const tools = await mcp.tools();
    expect(connectionStates(tools)).toEqual(allIn('unlinked'));
    const whoami = tools.find((t) => t.name === 'sandbox__whoami');
    expect(whoami?.description).toContain('Needs your Sandbox Tickets account');
    expect(whoami?.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true });
    expect(tools.find((t) => t.name === 'sandbox__delete_ticket')?.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
  });

  it('2025 era with URL elicitation: -32042 carries the link; after linking the same call returns data', async () => {
    const { mcp, identity } = await newUser({ era: 'legacy', onUrl: async () => 'accept' });
    expect(mcp.client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    const err = await rejection(mcp.call('sandbox__whoami'));
    expect(err.code).toBe(-32042);
    const data = z
      .object({ elicitations: z.array(z.object({ mode: z.literal('url'), url: z.string(), message: z.string(), elicitationId: z.string().min(1) })).length(1) })
      .parse(err.data);
    const [elicitation] = data.elicitations;
    expect(elicitation!.url).toMatch(new RegExp(`^${LINK.source}$`));
    expect(elicitation!.url.startsWith(`${origin}/oauth/sandbox/start?link=`)).toBe(true);
    expect(elicitation!.message).toContain(elicitation!.url);
    // On this era the error is the whole answer: no elicitation request was sent to the client.
    expect(mcp.elicited).toEqual([]);
    expect(await connectionOf(identity)).toBeUndefined();

    const before = mcp.toolListChanges;
    const done = await followLink(new Browser(), elicitation!.url, `legacy-${identity.user}`);
    expect(done.status).toBe(200);
    expect(done.html).toContain('Sandbox Tickets is linked');
    expect(done.visited.map((u) => new URL(u).pathname)).toEqual([
      '/oauth/sandbox/start',
      '/sandbox/oauth/authorize',
      '/sandbox/oauth/authorize',
      '/oauth/callback',
    ]);
    await expectWorkingLink(mcp, identity, `legacy-${identity.user}`, before);
  });

  it('2026 era with URL elicitation: the elicitation handler gets the link, and linking there completes the same call', async () => {
    const username = `modern-${randomUUID().slice(0, 8)}`;
    const { mcp, identity } = await newUser({
      era: 'auto',
      // The host shows the URL; the user opens it, approves, and comes back.
      onUrl: async (p) => {
        const done = await followLink(new Browser(), p.url, username);
        expect(done.status).toBe(200);
        return 'accept';
      },
    });
    expect(mcp.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const before = mcp.toolListChanges;
    const r = await mcp.call('sandbox__whoami');
    expect(mcp.elicited).toHaveLength(1);
    expect(mcp.elicited[0]).toMatchObject({
      mode: 'url',
      url: expect.stringMatching(new RegExp(`^${LINK.source}$`)),
      message: expect.stringContaining('Link your Sandbox Tickets account'),
    });
    // The retry that follows the input_required round finds the account linked.
    expect(json(me, r)).toEqual({ username, scopes: ['read', 'write'] });
    await expectWorkingLink(mcp, identity, username, before);
  });

  it('2026 era: a declined elicitation ends the call with an isError result that still gives the link', async () => {
    const { mcp, identity } = await newUser({ era: 'auto', onUrl: async () => 'decline' });
    const r = await mcp.call('sandbox__list_tickets');
    expect(mcp.elicited).toHaveLength(1);
    expect(r.isError).toBe(true);
    expect(linkIn(textOf(r))).toMatch(/\/oauth\/sandbox\/start\?link=/);
    expect(await connectionOf(identity)).toBeUndefined();
  });

  it('a client without elicitation gets an isError result whose text is the link; after linking the call works', async () => {
    const { mcp, identity } = await newUser({ era: 'auto' });
    const r = await mcp.call('sandbox__whoami');
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toMatch(/^Link your Sandbox Tickets account to use this tool\. Open this link, approve access, then call the tool again: /);
    const before = mcp.toolListChanges;
    const done = await followLink(new Browser(), linkIn(text), `plain-${identity.user}`);
    expect(done.status).toBe(200);
    await expectWorkingLink(mcp, identity, `plain-${identity.user}`, before);
  });

  it('a 1.x SDK client (2025 era, no elicitation) gets the link as an isError result too', async () => {
    const user = `v1-${randomUUID().slice(0, 8)}`;
    const { token } = await hub.hub.tokens.create({ user });
    const v1 = await connectClient('v1', { transport: 'http', url: hub.url, token });
    try {
      const r = await v1.callTool('sandbox__create_ticket', { title: 'x' });
      expect(r.isError).toBe(true);
      const first = z.object({ type: z.literal('text'), text: z.string() }).parse(r.content[0]);
      expect(linkIn(first.text)).toContain(`${origin}/oauth/sandbox/start?link=`);
    } finally {
      await v1.close();
    }
  });

  /** A linked user whose grant the provider then ends (the app removed in its settings): every token of it is dead. */
  async function linkedThenRevoked() {
    const username = `revoked-${randomUUID().slice(0, 8)}`;
    const { mcp, identity } = await newUser({ era: 'legacy' });
    const first = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const changes = mcp.toolListChanges;
    expect((await followLink(new Browser(), first, username)).status).toBe(200);
    await eventually(() => mcp.toolListChanges > changes);
    const c = (await connectionOf(identity))!;

    // The user removes the app in the provider's settings: its grant, and so every token, ends.
    const sandboxApp = hub.hub.integrations.accounts.integration('sandbox')!;
    const { refreshToken } = await hub.hub.integrations.accounts.connections.tokens(c);
    const revoked = await fetch(`${origin}/sandbox/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${sandboxApp.clientId}:${sandboxApp.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: refreshToken! }),
    });
    expect(revoked.status).toBe(200);

    return { mcp, identity, c, username };
  }

  it('access revoked at the provider: the next call marks the connection for re-linking and gives the link; re-linking restores it', async () => {
    const { mcp, identity, c, username } = await linkedThenRevoked();
    let changes: number;
    changes = mcp.toolListChanges;
    // What the hub tells this user's clients, as its catalog hears it.
    const told: string[] = [];
    const stopHearing = hub.hub.catalog.onChange((ch) => {
      if (ch.identities?.some((i) => i.user === identity.user)) told.push(ch.kind);
    });
    const r = await mcp.call('sandbox__whoami');
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /^Your Sandbox Tickets connection needs to be linked again \(the provider rejected the refresh token \(invalid_grant: .*\)\. Open this link to re-link it, then call the tool again: /,
    );
    expect(await connectionOf(identity)).toMatchObject({ id: c.id, state: 'needs_reauth' });
    await eventually(() => mcp.toolListChanges > changes);
    expect(connectionStates(await mcp.tools())).toEqual(allIn('needs_reauth'));
    // Once: the connection's change, not again by the call that met it.
    stopHearing();
    expect(told).toEqual(['tools']);

    changes = mcp.toolListChanges;
    expect((await followLink(new Browser(), linkIn(textOf(r)), username)).status).toBe(200);
    await expectWorkingLink(mcp, identity, username, changes);
    expect((await connectionOf(identity))?.id).toBe(c.id);
  });

  it('access revoked at the provider: a write (sent through the outbound queue) gives the link too, not a bare failure', async () => {
    const { mcp, identity, c } = await linkedThenRevoked();
    const r = await mcp.call('sandbox__create_ticket', { title: 'after the grant ended' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Your Sandbox Tickets connection needs to be linked again \(.*\)\. Open this link to re-link it, then call the tool again: /);
    expect(await connectionOf(identity)).toMatchObject({ id: c.id, state: 'needs_reauth' });
  });

  it("one user's revoked account does not open the integration's circuit: another user's write goes at once", async () => {
    const { mcp } = await linkedThenRevoked();
    // Queued before the connection is known to need re-linking: each send meets the refused refresh.
    const failed = await Promise.all(Array.from({ length: 8 }, (_, i) => mcp.call('sandbox__create_ticket', { title: `revoked ${i}` })));
    expect(failed.every((r) => r.isError === true)).toBe(true);
    expect(hub.hub.integrations.breakers.snapshot().find((b) => b.integration === 'sandbox') ?? { state: 'closed' }).toMatchObject({ state: 'closed' });
    const other = await newUser({ era: 'auto' });
    const link = linkIn(textOf(await other.mcp.call('sandbox__whoami')));
    expect((await followLink(new Browser(), link, `healthy-${randomUUID().slice(0, 8)}`)).status).toBe(200);
    const r = await other.mcp.call('sandbox__create_ticket', { title: 'not held by anyone else' });
    expect(json(ticket, r)).toMatchObject({ title: 'not held by anyone else' });
  });

  it('checks arguments against the tool schema before asking for a link', async () => {
    const { mcp } = await newUser({ era: 'auto' });
    // A tool execution error the model reads and corrects (SEP-1303), its code in _meta, on both eras.
    expect(argumentRefusal(await mcp.call('sandbox__create_ticket', { title: 'x', priority: 'whenever' }))).toContain('priority');
    const legacy = await newUser({ era: 'legacy' });
    expect(argumentRefusal(await legacy.mcp.call('sandbox__create_ticket', { title: 'x', evil: 1 }))).toContain('unknown argument "evil"');
    const unknown = await rejection(legacy.mcp.call('sandbox__no_such_tool', {}));
    expect([unknown.code, unknown.data]).toEqual([-32602, { code: 'tool_not_found' }]);
  });
});

describe('the hosted sandbox provider', () => {
  it('is mounted at /sandbox with its RFC 8414 metadata at the root well-known path', async () => {
    const res = await fetch(`${origin}/.well-known/oauth-authorization-server/sandbox`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      issuer: `${origin}/sandbox`,
      authorization_endpoint: `${origin}/sandbox/oauth/authorize`,
      token_endpoint: `${origin}/sandbox/oauth/token`,
      revocation_endpoint: `${origin}/sandbox/oauth/revoke`,
      code_challenge_methods_supported: ['S256'],
    });
    // Its API wants a token like any provider's.
    expect((await fetch(`${origin}/sandbox/api/me`)).status).toBe(401);
  });

  it('is neither mounted nor listed when the config does not enable it', async () => {
    const bare = await startHub();
    try {
      expect((await fetch(`${new URL(bare.url).origin}/sandbox/oauth/authorize`)).status).toBe(404);
      const mcp = await connectMcp(bare.url, bare.token, { era: 'auto' });
      open.push(mcp);
      expect((await mcp.tools()).filter((t) => t.name.startsWith('sandbox__'))).toEqual([]);
    } finally {
      await bare.stop();
    }
  });
});

describe('linking in the browser', () => {
  it('a denied consent links nothing and says so', async () => {
    const { mcp, identity } = await newUser({ era: 'auto' });
    const link = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const done = await followLink(new Browser(), link, 'denier', 'deny');
    expect(done.status).toBe(400);
    expect(done.html).toContain('Sandbox Tickets was not linked: access was denied at the provider');
    expect(await connectionOf(identity)).toBeUndefined();
  });

  it('a callback opened in another browser than the one that started the flow is refused', async () => {
    const { mcp, identity } = await newUser({ era: 'auto' });
    const link = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const victim = new Browser();
    const start = await confirmLink(victim, link);
    expect(start.status).toBe(303);
    expect(victim.cookiesFor(`${origin}/oauth/callback`)).toEqual([expect.stringMatching(/^sb_flow_/)]);
    const authorize = locationOf(start, link);
    const form = await victim.get(authorize);
    const interaction = /name="interaction" value="([^"]+)"/.exec(await form.text())?.[1];
    const decided = await victim.post(`${origin}/sandbox/oauth/authorize`, { interaction: interaction!, username: 'victim', decision: 'allow' });
    const callback = locationOf(decided, authorize);
    const other = await new Browser().get(callback);
    expect(other.status).toBe(400);
    expect(await other.text()).toContain('started in another browser');
    expect(await connectionOf(identity)).toBeUndefined();
  });

  it('a tampered link is refused before anything starts', async () => {
    const { mcp } = await newUser({ era: 'auto' });
    const link = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const res = await new Browser().get(`${link.slice(0, -3)}AAA`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('not valid');
  });

  it('a link for one integration cannot start another', async () => {
    const { mcp } = await newUser({ era: 'auto' });
    const link = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const res = await new Browser().get(link.replace('/oauth/sandbox/start', '/oauth/github/start'));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('this link is for another integration');
  });
});

describe('/connect', () => {
  /** Links `identity` through the browser and opens /connect via a signed link in a fresh browser. */
  async function linkedWithConnectPage(mcp: McpUser, identity: Identity, username: string) {
    const link = linkIn(textOf(await mcp.call('sandbox__whoami')));
    const before = mcp.toolListChanges;
    expect((await followLink(new Browser(), link, username)).status).toBe(200);
    await eventually(() => mcp.toolListChanges > before);
    const browser = new Browser();
    const entry = hub.hub.integrations.accounts.connectUrl(identity);
    const entered = await browser.get(entry);
    expect(entered.status).toBe(303);
    // The signed link becomes a session cookie and leaves the address bar.
    expect(locationOf(entered, entry)).toBe(`${origin}/connect`);
    expect(browser.cookiesFor(`${origin}/connect`)).toEqual(['sb_connect']);
    const page = await browser.get(`${origin}/connect`);
    expect(page.status).toBe(200);
    return { browser, html: await page.text() };
  }

  function rowOf(html: string, title: string): string {
    const row = html.split('<tr>').find((r) => r.includes(`<strong>${title}</strong>`));
    if (!row) throw new Error(`no row for ${title}`);
    return row;
  }

  it('shows the linked integration as active, and its Revoke form revokes at the provider', async () => {
    const username = `connect-${randomUUID().slice(0, 8)}`;
    const { mcp, identity } = await newUser({ era: 'legacy' });
    const { browser, html } = await linkedWithConnectPage(mcp, identity, username);
    expect(html).toContain(`Accounts of ${identity.user}`);
    const row = rowOf(html, 'Sandbox Tickets');
    expect(row).toContain('<td class="state active">active</td>');
    expect(row).toMatch(/<a class="button" href="[^"]*\/oauth\/sandbox\/start\?link=[^"]+">Re-link<\/a>/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(row)?.[1];
    expect(csrf).toBeDefined();

    const c = (await connectionOf(identity))!;
    const { accessToken } = await hub.hub.integrations.accounts.connections.tokens(c);
    const api = () => fetch(`${origin}/sandbox/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect((await api()).status).toBe(200);

    const before = mcp.toolListChanges;
    const revoked = await browser.post(`${origin}/connect/revoke`, { integration: 'sandbox', csrf: csrf! });
    expect(revoked.status).toBe(303);
    const after = await browser.get(locationOf(revoked, `${origin}/connect/revoke`));
    const afterHtml = await after.text();
    expect(afterHtml).toContain('Revoked sandbox.');
    expect(rowOf(afterHtml, 'Sandbox Tickets')).toContain('<td class="state unlinked">unlinked</td>');

    // Revoked at the provider, not only forgotten here.
    expect(await (await api()).json()).toEqual({ error: { code: 'invalid_token', message: 'The access token was revoked' } });
    expect(await hub.hub.integrations.accounts.connections.get(c.id)).toMatchObject({ state: 'revoked' });
    await eventually(() => mcp.toolListChanges > before);
    expect(connectionStates(await mcp.tools())).toEqual(allIn('unlinked'));
    const again = await mcp.call('sandbox__whoami');
    expect(again.isError).toBe(true);
    expect(linkIn(textOf(again))).toBeTruthy();
  });

  it('refuses a revoke without the csrf field, with a wrong one, or without the session, and changes nothing', async () => {
    const { mcp, identity } = await newUser({ era: 'auto' });
    const { browser, html } = await linkedWithConnectPage(mcp, identity, `csrf-${randomUUID().slice(0, 8)}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(rowOf(html, 'Sandbox Tickets'))![1]!;
    const c = (await connectionOf(identity))!;

    const missing = await browser.post(`${origin}/connect/revoke`, { integration: 'sandbox' });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('Not allowed');
    const wrong = await browser.post(`${origin}/connect/revoke`, { integration: 'sandbox', csrf: `${csrf.slice(0, -2)}xx` });
    expect(wrong.status).toBe(403);
    // A page elsewhere can copy nothing but the field names; without the session cookie the token is worthless.
    const stranger = await new Browser().post(`${origin}/connect/revoke`, { integration: 'sandbox', csrf });
    expect(stranger.status).toBe(403);

    expect(await connectionOf(identity)).toMatchObject({ id: c.id, state: 'active', tokenVersion: c.tokenVersion });
    expect(json(me, await mcp.call('sandbox__whoami')).username).toMatch(/^csrf-/);
  });

  it('without a session it asks for the link, and a tampered entry link is refused', async () => {
    const anonymous = await new Browser().get(`${origin}/connect`);
    expect(anonymous.status).toBe(401);
    const entry = hub.hub.integrations.accounts.connectUrl({ tenant: DEFAULT_TENANT, user: 'alice', scopes: [] });
    const tampered = await new Browser().get(entry.replace(/.{4}$/, 'AAAA'));
    expect(tampered.status).toBe(400);
    expect(tampered.headers.getSetCookie()).toEqual([]);
  });
});
