/**
 * A linking that fails in the browser (a denied consent, a link opened twice or in a second
 * browser) ends on a page that says how to get a new link, where it said only what went wrong:
 * a first-time user who pressed Deny, or opened the link on their phone first, was left there.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { Browser, confirmLink, followLink } from '../integrations/browser.js';

const LINK = /http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const NEXT = 'To link Sandbox Tickets, call one of its tools again in your MCP client: it answers with a new link. Or run <code>';

let hub: RunningHub;

beforeAll(async () => {
  hub = await startHub({ integrations: { sandbox: {} } });
});
afterAll(() => hub.stop());

/** A fresh hub user's link, as the 1.x SDK client (what Claude Desktop embeds) is handed it by an unlinked tool. */
async function linkOfNewUser(): Promise<string> {
  const { token } = await hub.hub.tokens.create({ user: `u-${randomUUID().slice(0, 8)}` });
  const client = new Client({ name: 'desktop', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    const result = await client.callTool({ name: 'sandbox__whoami', arguments: {} });
    const text = JSON.stringify(result);
    const link = LINK.exec(text)?.[0];
    if (!link) throw new Error(`no link in ${text}`);
    return link;
  } finally {
    await client.close();
  }
}

/** The page's text with its markup's escapes undone, as a browser shows it. */
const shown = (html: string) => html.replaceAll('&lt;', '<').replaceAll('&gt;', '>');

describe('a failed linking says how to get a new link', () => {
  it('after a denied consent', async () => {
    const done = await followLink(new Browser(), await linkOfNewUser(), 'denier', 'deny');
    expect(done.status).toBe(400);
    expect(done.html).toContain('Sandbox Tickets was not linked: access was denied at the provider');
    expect(shown(done.html)).toContain(NEXT);
    expect(shown(done.html)).toContain('<code>switchboard connect sandbox --user <you></code>, which prints one.');
  });

  it('when the link was opened in another browser first', async () => {
    const link = await linkOfNewUser();
    expect((await new Browser().get(link)).status).toBe(200);
    const second = await new Browser().get(link);
    const html = await second.text();
    expect(second.status).toBe(400);
    expect(html).toContain('this link was opened in another browser first');
    expect(shown(html)).toContain(NEXT);
  });

  it('when the link was already used', async () => {
    const link = await linkOfNewUser();
    const browser = new Browser();
    expect((await confirmLink(browser, link)).status).toBe(303);
    const again = await browser.get(link);
    const html = await again.text();
    expect(again.status).toBe(400);
    expect(html).toContain('this link was already used; a link works once.');
    expect(shown(html)).toContain(NEXT);
  });

  it('names no integration the hub does not have', async () => {
    const res = await fetch(`${new URL(hub.url).origin}/oauth/nosuch/start?link=x.y`);
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(shown(html)).toContain('To link the account, call one of its tools again in your MCP client');
    expect(html).not.toContain('nosuch');
  });
});
