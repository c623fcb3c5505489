/**
 * The requests a link makes with the new access token (README: A base per linked account): the
 * values request and the identity request are answered while the user's browser waits on the
 * callback page. A provider's 429 with a long Retry-After (Jira's accessible-resources says 30 s
 * or more) is not waited out past the identity timeout: it held the page for up to a minute per
 * request, then failed anyway. The page answers at once, saying when a new link can work.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Browser } from '../fakes/browser.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

let hub: RunningHub;
let api: Server;
/** The waits between attempts, recorded, not slept. */
const sleeps: number[] = [];
const hits: string[] = [];
/** Which request answers 429 (Retry-After: 50). */
let busy = '';

beforeAll(async () => {
  api = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/authorize') {
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', 'code-0123456789');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/token')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer', expires_in: 3600 }));
    hits.push(url.pathname);
    if (url.pathname === busy) return void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '50' }).end('{"message":"rate limited"}');
    if (url.pathname === '/oauth/token/accessible-resources') return void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"id":"cloud-a"}]');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"accountId":"acc-1"}');
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  hub = await startHub(
    {
      integrations: {
        jira: {
          type: 'custom',
          title: 'Jira',
          oauth: { authorizeUrl: `${origin}/authorize`, tokenUrl: `${origin}/token`, clientId: 'hub', clientSecret: 'hub-secret' },
          apiBaseUrl: `${origin}/ex/jira/{cloudId}/rest/api/3`,
          account: { values: { cloudId: { request: '/oauth/token/accessible-resources', at: '0.id' } }, from: { request: '/myself', at: 'accountId' } },
          tools: { myself: { description: 'Me.', method: 'GET', path: '/myself', readOnly: true } },
        },
      },
    },
    { provider: { sleep: async (ms) => void sleeps.push(ms) } },
  );
});
afterAll(async () => {
  await hub.stop();
  await new Promise((r) => api.close(r));
});
beforeEach(() => {
  sleeps.length = 0;
  hits.length = 0;
});

async function link(user: string): Promise<{ status: number; html: string }> {
  const browser = new Browser();
  const url = hub.hub.integrations.accounts.linkUrl({ tenant: 'default', user, scopes: [] }, 'jira');
  const page = await browser.get(await browser.authorize(url, { login: user }));
  return { status: page.status, html: await page.text() };
}

it('a values request answered 429 fails the link at once, saying when to try again, not after waiting out the Retry-After', async () => {
  busy = '/oauth/token/accessible-resources';
  const r = await link('alice');
  expect(r.status, r.html).toBe(400);
  expect(r.html).toContain('Jira was not linked: GET /oauth/token/accessible-resources answered 429; try linking again in 50 s');
  expect({ sleeps, hits }).toEqual({ sleeps: [], hits: ['/oauth/token/accessible-resources'] });
  expect(await hub.hub.integrations.connections.find('default', 'alice', 'jira')).toBeUndefined();
});

it('an identity request answered 429 is not waited out either: the link is made without the account id', async () => {
  busy = '/ex/jira/cloud-a/rest/api/3/myself';
  const r = await link('bob');
  expect(r.status, r.html).toBe(200);
  expect({ sleeps, hits }).toEqual({ sleeps: [], hits: ['/oauth/token/accessible-resources', '/ex/jira/cloud-a/rest/api/3/myself'] });
  expect(await hub.hub.integrations.connections.find('default', 'bob', 'jira')).toMatchObject({ apiValues: { cloudId: 'cloud-a' }, accountId: null });
});
