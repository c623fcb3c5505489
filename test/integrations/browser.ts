/**
 * What a browser does with the hub's and the provider's pages, over real HTTP: a cookie jar that
 * honours Path and Max-Age=0, redirects read one at a time (so every hop can be checked), and
 * forms posted with the Origin a browser would send.
 */
import { expect } from 'vitest';

interface StoredCookie {
  value: string;
  origin: string;
  path: string;
}

export class Browser {
  private readonly jar = new Map<string, StoredCookie>();

  async get(url: string): Promise<Response> {
    return this.send(url, { method: 'GET' });
  }

  /** Posts a urlencoded form as a page on `url`'s origin would. */
  async post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
      body: new URLSearchParams(fields),
    });
  }

  /** The names of the cookies this browser would send to `url`. */
  cookiesFor(url: string): string[] {
    return this.matching(new URL(url)).map(([name]) => name);
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const u = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.matching(u)
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(u, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.store(u, line);
    return res;
  }

  private matching(u: URL): [string, StoredCookie][] {
    const out: [string, StoredCookie][] = [];
    for (const [key, c] of this.jar) {
      // RFC 6265 §5.1.4 path-match: the cookie path is a prefix ending at a segment boundary.
      const pathOk = u.pathname === c.path || (u.pathname.startsWith(c.path) && (c.path.endsWith('/') || u.pathname[c.path.length] === '/'));
      if (c.origin === u.origin && pathOk) out.push([key.split('\0')[0]!, c]);
    }
    return out;
  }

  private store(u: URL, line: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(`${n.toLowerCase()}=`))?.split('=')[1];
    const path = attr('Path') ?? u.pathname.replace(/\/[^/]*$/, '/');
    const key = `${name}\0${u.origin}\0${path}`;
    if (attr('Max-Age') === '0') this.jar.delete(key);
    else this.jar.set(key, { value, origin: u.origin, path });
  }
}

export function locationOf(res: Response, base: string): string {
  const loc = res.headers.get('location');
  if (!loc) throw new Error(`expected a redirect, got ${res.status}`);
  return new URL(loc, base).href;
}

export interface LinkOutcome {
  /** The hub's final page. */
  status: number;
  html: string;
  /** Every URL the browser opened, in order. */
  visited: string[];
}

/** Opens a hub link and confirms on the hub's page that names the user; returns the redirect to the provider. */
export async function confirmLink(browser: Browser, link: string): Promise<Response> {
  const opened = await browser.get(link);
  const html = await opened.text();
  expect(opened.status, html).toBe(200);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]));
  if (!action || !fields['link'] || !fields['csrf']) throw new Error(`no confirmation form at ${link}: ${html.slice(0, 800)}`);
  return browser.post(new URL(action, link).href, { link: fields['link'], csrf: fields['csrf'] });
}

/**
 * Opens a hub link as a user would: the hub names the hub user and the user confirms, the hub
 * sends the browser to the provider's consent form, the user signs in as `username` and decides,
 * the provider sends the browser back to the hub.
 */
export async function followLink(browser: Browser, link: string, username: string, decision: 'allow' | 'deny' = 'allow'): Promise<LinkOutcome> {
  const visited = [link];
  const start = await confirmLink(browser, link);
  expect(start.status, await start.clone().text()).toBe(303);
  const authorize = locationOf(start, link);
  visited.push(authorize);
  const form = await browser.get(authorize);
  const page = await form.text();
  expect(form.status, page).toBe(200);
  const interaction = /name="interaction" value="([^"]+)"/.exec(page)?.[1];
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  if (!interaction || !action) throw new Error(`no consent form at ${authorize}`);
  const posted = new URL(action.replace(/&amp;/g, '&'), authorize).href;
  visited.push(posted);
  const decided = await browser.post(posted, { interaction, username, decision });
  expect(decided.status, await decided.clone().text()).toBe(302);
  const callback = locationOf(decided, posted);
  visited.push(callback);
  const done = await browser.get(callback);
  return { status: done.status, html: await done.text(), visited };
}
