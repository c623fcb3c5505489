/**
 * Stand-ins for providers whose API base differs per linked account, speaking their wire format
 * on loopback: an OAuth server that signs a user in at once (authorize redirects back with a code
 * naming the login) and whose token response carries Salesforce's `instance_url`; and sites that
 * answer only the tokens issued for them, recording every request, so a test can tell that one
 * user's token never reached another's site. A Jira-like API at one origin answers
 * `/oauth/token/accessible-resources` per token and `/ex/jira/<cloudid>/…` per site.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { expect } from 'vitest';
import type { Browser } from '../fakes/browser.js';
import type { RunningHub } from '../helpers/hub.js';

export interface Seen {
  site: string;
  method: string;
  path: string;
  token: string;
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as AddressInfo).port;
}

function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return true;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(body));
  });
}

const bearer = (req: IncomingMessage) => (req.headers.authorization ?? '').replace(/^Bearer /, '');

export class FakeProvider {
  /** Every API request any site or the Jira-like API received. */
  readonly seen: Seen[] = [];
  /** The login the next authorization signs in as. */
  nextLogin = 'alice';
  /** What the token response says as `instance_url` for a login (Salesforce). */
  readonly instanceUrl = new Map<string, string>();
  /** The sites a login's tokens may use (Jira's accessible resources: cloud ids). */
  readonly cloudIds = new Map<string, string[]>();
  /** Tokens sent to the revocation endpoint (RFC 7009), in order. */
  readonly revoked: string[] = [];
  /** Which login each issued access token belongs to. */
  private readonly owners = new Map<string, string>();
  private issued = 0;
  private readonly servers: Server[] = [];
  oauthOrigin = '';
  /** The Jira-like API: accessible resources and every site under /ex/jira/<cloudid>. */
  jiraOrigin = '';
  /** Two Salesforce-like instances on two hosts: 127.0.0.1 and localhost. */
  siteA = '';
  siteB = '';

  static async start(): Promise<FakeProvider> {
    const p = new FakeProvider();
    await p.init();
    return p;
  }

  private async init(): Promise<void> {
    const oauth = createServer((req, res) => void this.oauth(req, res));
    this.oauthOrigin = `http://127.0.0.1:${await listen(oauth, '127.0.0.1')}`;
    const jira = createServer((req, res) => this.jira(req, res));
    this.jiraOrigin = `http://127.0.0.1:${await listen(jira, '127.0.0.1')}`;
    const a = createServer((req, res) => this.site(this.siteA, req, res));
    this.siteA = `http://127.0.0.1:${await listen(a, '127.0.0.1')}`;
    const b = createServer((req, res) => this.site(this.siteB, req, res));
    this.siteB = `http://localhost:${await listen(b, 'localhost')}`;
    this.servers.push(oauth, jira, a, b);
  }

  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {});
  }

  /** An integration's `oauth` block for this provider (its revocation endpoint too). */
  oauthConfig() {
    const o = this.oauthOrigin;
    return { authorizeUrl: `${o}/authorize`, tokenUrl: `${o}/token`, revokeUrl: `${o}/revoke`, clientId: 'hub', clientSecret: 'hub-secret' };
  }

  ownerOf(token: string): string | undefined {
    return this.owners.get(token);
  }

  private async oauth(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', this.oauthOrigin);
    if (url.pathname === '/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', `code-${this.nextLogin}-${++this.issued}`);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    if (url.pathname === '/revoke') {
      this.revoked.push(form.get('token') ?? '');
      res.writeHead(200).end();
      return;
    }
    const login =
      form.get('grant_type') === 'authorization_code' ? /^code-(.+)-\d+$/.exec(form.get('code') ?? '')?.[1] : this.owners.get(form.get('refresh_token') ?? '');
    if (login === undefined) return json(res, 400, { error: 'invalid_grant' });
    const n = ++this.issued;
    const access = `at-${login}-${n}`;
    const refresh = `rt-${login}-${n}`;
    this.owners.set(access, login).set(refresh, login);
    const instance = this.instanceUrl.get(login);
    json(res, 200, { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: 3600, ...(instance ? { instance_url: instance } : {}) });
  }

  private jira(req: IncomingMessage, res: ServerResponse): unknown {
    const url = new URL(req.url ?? '/', this.jiraOrigin);
    const token = bearer(req);
    this.seen.push({ site: this.jiraOrigin, method: req.method ?? '', path: url.pathname + url.search, token });
    const login = this.owners.get(token);
    if (login === undefined) return json(res, 401, { message: 'unauthorized' });
    const clouds = this.cloudIds.get(login) ?? [];
    if (url.pathname === '/oauth/token/accessible-resources') {
      return json(
        res,
        200,
        clouds.map((id) => ({ id, url: `https://${id}.atlassian.net`, name: id, scopes: ['read:jira-work'], avatarUrl: 'https://x/a.png' })),
      );
    }
    const m = /^\/ex\/jira\/([^/]+)\/rest\/api\/3(\/.*)$/.exec(url.pathname);
    // Atlassian answers 401 for a token not granted to that site.
    if (m === null || !clouds.includes(decodeURIComponent(m[1]!))) return json(res, 401, { message: 'not this site' });
    this.answer(req, res, { site: decodeURIComponent(m[1]!), login, path: m[2]! });
  }

  private site(origin: string, req: IncomingMessage, res: ServerResponse): unknown {
    const url = new URL(req.url ?? '/', origin);
    const token = bearer(req);
    this.seen.push({ site: origin, method: req.method ?? '', path: url.pathname + url.search, token });
    const login = this.owners.get(token);
    // An org's instance answers only its own users' tokens, as Salesforce does (INVALID_SESSION_ID).
    if (login === undefined || this.instanceUrl.get(login) !== origin)
      return json(res, 401, [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    const m = /^\/services\/data\/v61\.0(\/.*)$/.exec(url.pathname);
    if (m === null) return json(res, 404, [{ errorCode: 'NOT_FOUND', message: 'no such path' }]);
    this.answer(req, res, { site: origin, login, path: m[1]! });
  }

  /** The site's answer: who asked, on which site; a feed of one event per site for polls. */
  private answer(req: IncomingMessage, res: ServerResponse, at: { site: string; login: string; path: string }): unknown {
    // A redirect to the other instance: credentials must not follow it.
    if (at.path === '/hop') {
      const other = at.site === this.siteA ? this.siteB : this.siteA;
      res.writeHead(302, { location: `${other}/services/data/v61.0/whoami` }).end();
      return true;
    }
    if (at.path === '/events')
      return json(res, 200, { events: [{ id: `evt-${at.site}`, type: 'changed', site: at.site }], next_cursor: null, has_more: false });
    void readBody(req).then((body) => json(res, req.method === 'POST' ? 201 : 200, { site: at.site, login: at.login, path: at.path, body }));
  }
}

/** Links `user` through the hub's link and the provider's sign-in, as a browser does; returns the page's text. */
export async function linkAs(
  hub: RunningHub,
  browser: Browser,
  provider: FakeProvider,
  integration: string,
  user: string,
): Promise<{ status: number; html: string }> {
  provider.nextLogin = user;
  const link = hub.hub.integrations.accounts.linkUrl({ tenant: 'default', user, scopes: [] }, integration);
  const callback = await browser.authorize(link, { login: user });
  const page = await browser.get(callback);
  return { status: page.status, html: await page.text() };
}

export function expectLinked(r: { status: number; html: string }): void {
  expect(r.status, r.html).toBe(200);
  expect(r.html).toContain('is linked');
}
