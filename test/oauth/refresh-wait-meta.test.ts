/**
 * A token endpoint that answers a refresh with a Retry-After longer than the hub waits: the
 * caller's tool result says how long is left in `_meta["switchboard/error"].retryAfterMs`, so an
 * MCP client can schedule its retry without reading the text (README, "Linked accounts"). The
 * provider is a local HTTP server scripted per request; time is the hub's injected clock.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { bearerClient } from '../helpers/clients.js';
import { Browser, confirmLink, locationOf } from '../integrations/browser.js';

const ALICE = { tenant: 'default', user: 'alice', scopes: [] };

describe('a refresh the token endpoint puts off', () => {
  const clock = manualClock(Date.now());
  let provider: Server;
  let hub: RunningHub;
  let client: Client;
  let refreshes = 0;

  beforeAll(async () => {
    provider = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.once('end', () => {
        if (req.url === '/token' && new URLSearchParams(body).get('grant_type') === 'refresh_token') {
          refreshes++;
          return void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' }).end('{"error":"slow_down"}');
        }
        if (req.url === '/token') {
          return void res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ access_token: 'acme-access-1', refresh_token: 'acme-refresh-1', token_type: 'Bearer', expires_in: 60 }));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"login":"alice"}');
      });
    }).listen(0, '127.0.0.1');
    await once(provider, 'listening');
    const base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    const acme = {
      type: 'custom',
      oauth: { authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: 'acme-client-secret' },
      apiBaseUrl: `${base}/api`,
      tools: { me: { description: 'Who the linked account is.', method: 'GET', path: '/me', readOnly: true } },
    };
    hub = await startHub({ integrations: { acme } }, { clock });
    const browser = new Browser();
    const link = hub.hub.integrations.accounts.linkUrl(ALICE, 'acme');
    const started = await confirmLink(browser, link);
    const state = new URL(locationOf(started, link)).searchParams.get('state');
    const done = await browser.get(`${new URL(hub.url).origin}/oauth/callback?code=the-code&state=${state}`);
    expect(done.status, await done.text()).toBe(200);
    client = await bearerClient(hub.url, hub.token);
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    provider?.closeAllConnections();
    await new Promise((r) => provider?.close(r));
  });

  it('fails with token_refresh_failed carrying retryAfterMs, first when asked and then for what is left', async () => {
    clock.advance(61_000);
    const first = await client.callTool({ name: 'acme__me', arguments: {} });
    expect(first.isError, JSON.stringify(first)).toBe(true);
    expect(first._meta?.['switchboard/error']).toEqual({ code: 'token_refresh_failed', retryable: true, retryAfterMs: 120_000 });
    clock.advance(30_000);
    const later = await client.callTool({ name: 'acme__me', arguments: {} });
    expect(later._meta?.['switchboard/error']).toEqual({ code: 'token_refresh_failed', retryable: true, retryAfterMs: 90_000 });
    // The endpoint was asked once: within the wait the hub leaves it alone.
    expect(refreshes).toBe(1);
  });
});
