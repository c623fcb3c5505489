/**
 * Linking when the provider's token endpoint fails: a 5xx, a 429 or no answer is the provider's
 * trouble and worth another try (503 oauth_endpoint_unavailable); a refused code stays a 400
 * oauth_flow_failed, and so does a token response over the size cap, which is never stored. Every
 * failure is logged at warn with its code and integration, and no code, token or secret is logged.
 * The token endpoint is a local HTTP server the test scripts per request.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { MAX_TOKEN_RESPONSE_BYTES } from '../../src/oauth/client.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { Browser, confirmLink, locationOf } from '../integrations/browser.js';

const ALICE = { tenant: 'default', user: 'alice', scopes: [] };
const CLIENT_SECRET = 'acme-client-secret-7f3a9c';
const CODE = 'authorization-code-4b1d8e2f';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** Writes a JSON token response of `bytes` in 64 KiB chunks as fast as the reader takes them; tells `written` how much got out. */
function hugeToken(bytes: number, written: (n: number) => void): Answer {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    res.on('close', () => written(sent));
    const pump = () => {
      if (sent === 0) {
        res.write('{"token_type":"Bearer","access_token":"');
      }
      while (sent < bytes) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end('"}');
    };
    pump();
  };
}

describe('linking when the token endpoint fails', () => {
  const clock = manualClock(Date.now());
  const lines: string[] = [];
  let provider: Server;
  let answer: Answer;
  let hub: RunningHub;

  beforeAll(async () => {
    provider = createServer((req, res) => {
      req.resume();
      req.once('end', () => answer(req, res));
    }).listen(0, '127.0.0.1');
    await once(provider, 'listening');
    const base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    const acme = {
      type: 'custom',
      oauth: { authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: CLIENT_SECRET },
      apiBaseUrl: `${base}/api`,
      tools: {},
    };
    hub = await startHub({ integrations: { acme } }, { clock, log: capturedLogger(lines, 'info') });
  });
  afterAll(async () => {
    await hub?.stop();
    provider?.closeAllConnections();
    await new Promise((r) => provider?.close(r));
  });
  beforeEach(() => {
    lines.length = 0;
  });

  const connections = () => hub.hub.db.prepare('SELECT count(*) FROM connections').pluck().get();

  /** Opens a link, confirms, and comes back from the provider with a code: the hub then redeems it at `answer`. */
  async function linkWith(a: Answer): Promise<{ status: number; html: string; link: string }> {
    answer = a;
    const browser = new Browser();
    const link = hub.hub.integrations.accounts.linkUrl(ALICE, 'acme');
    const started = await confirmLink(browser, link);
    expect(started.status).toBe(303);
    const state = new URL(locationOf(started, link)).searchParams.get('state');
    const done = await browser.get(`${new URL(hub.url).origin}/oauth/callback?code=${CODE}&state=${state}`);
    return { status: done.status, html: await done.text(), link };
  }

  /** The log lines of linking failures, parsed. */
  const failures = () =>
    lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'linking failed')
      .map((l) => ({ level: l['level'], code: l['code'], integration: l['integration'] }));

  function expectNothingSecretLogged(): void {
    const log = lines.join('');
    for (const secret of [CODE, CLIENT_SECRET]) expect(log).not.toContain(secret);
  }

  it.each([
    ['a 500', (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>oops</h1>'), /answered 500/],
    [
      'a 503 with a JSON error',
      (_req: IncomingMessage, res: ServerResponse) =>
        void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}'),
      /answered 503/,
    ],
    ['a dropped connection', (req: IncomingMessage) => void req.socket.destroy(), /unreachable/],
  ])('%s is 503 oauth_endpoint_unavailable: try again, nothing linked, logged at warn', async (_name, a, why) => {
    const r = await linkWith(a);
    expect(r.status).toBe(503);
    expect(r.html).toContain('Linking failed');
    expect(r.html).toContain('oauth_endpoint_unavailable');
    expect(r.html).toMatch(why);
    expect(r.html).toMatch(/Try again in a moment with a new link/);
    expect(connections()).toBe(0);
    expect(failures()).toEqual([{ level: 40, code: 'oauth_endpoint_unavailable', integration: 'acme' }]);
    expectNothingSecretLogged();
  });

  it('a 429 is 503 oauth_endpoint_unavailable, and the page passes on the Retry-After', async () => {
    const r = await linkWith((_req, res) => void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' }).end('{"error":"slow_down"}'));
    expect(r.status).toBe(503);
    expect(r.html).toMatch(/answered 429.*Try again in 30 s with a new link/s);
    expect(failures()).toEqual([{ level: 40, code: 'oauth_endpoint_unavailable', integration: 'acme' }]);
  });

  it('a refused code (400 invalid_grant) stays 400 oauth_flow_failed, with a description that echoes the code taken out', async () => {
    const r = await linkWith(
      (_req, res) =>
        void res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_grant', error_description: `code ${CODE} expired` })),
    );
    expect(r.status).toBe(400);
    expect(r.html).toContain('oauth_flow_failed');
    expect(r.html).toContain('refused the authorization code: invalid_grant: code [code] expired');
    expect(connections()).toBe(0);
    expect(failures()).toEqual([{ level: 40, code: 'oauth_flow_failed', integration: 'acme' }]);
    expectNothingSecretLogged();
  });

  it.each([302, 303, 307])('a %i is 400 oauth_flow_failed naming the redirect, which is not followed', async (status) => {
    const paths: string[] = [];
    const r = await linkWith((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status, { location: '/elsewhere' }).end();
    });
    expect(r.status).toBe(400);
    expect(r.html).toContain(`a token response the hub cannot use: token endpoint answered ${status}, a redirect, not followed; nothing was linked`);
    expect(paths).toEqual(['/token']);
    expect(connections()).toBe(0);
    expect(failures()).toEqual([{ level: 40, code: 'oauth_flow_failed', integration: 'acme' }]);
    expectNothingSecretLogged();
  });

  it('a token response over the cap is refused while it streams (400 oauth_flow_failed) and nothing is stored', async () => {
    let written: (n: number) => void = () => {};
    const out = new Promise<number>((r) => (written = r));
    const total = 50 * 1024 * 1024;
    const r = await linkWith(hugeToken(total, written));
    expect(r.status).toBe(400);
    expect(r.html).toContain('oauth_flow_failed');
    expect(r.html).toContain(`a token response the hub cannot use: the token response is over ${MAX_TOKEN_RESPONSE_BYTES} bytes; nothing was linked`);
    expect(connections()).toBe(0);
    // The hub hung up after the cap: the provider could not write its 50 MB.
    expect(await out).toBeLessThan(total);
    expect(failures()).toEqual([{ level: 40, code: 'oauth_flow_failed', integration: 'acme' }]);
  });

  it('a token response just under the cap links the account; its link opened again is refused and logged with its integration', async () => {
    const token = 'b'.repeat(MAX_TOKEN_RESPONSE_BYTES - 200);
    const r = await linkWith(
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer' })),
    );
    expect(r.status, r.html).toBe(200);
    expect(connections()).toBe(1);
    expect(lines.join('')).not.toContain(token);

    const again = await new Browser().get(r.link);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('already used');
    expect(failures()).toEqual([{ level: 40, code: 'oauth_flow_failed', integration: 'acme' }]);
    expect(lines.join('')).not.toContain(new URL(r.link).searchParams.get('link'));
  });
});
