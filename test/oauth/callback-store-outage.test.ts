/**
 * The provider sends the user back while the hub's store does not answer (a PostgreSQL restart, a
 * failover): the callback page says to reload in a moment (503 with Retry-After), not "something
 * went wrong, try the link again" (500 internal), and reloading it once the store answers links
 * the account. The outage is injected at the repository boundary, as the PostgreSQL pool reports
 * one (store_failed); the provider is a local HTTP server.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/errors.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { Browser, confirmLink, locationOf } from '../integrations/browser.js';

const ALICE = { tenant: 'default', user: 'alice', scopes: [] };

describe('the OAuth callback while the store does not answer', () => {
  const lines: string[] = [];
  let provider: Server;
  let hub: RunningHub;

  beforeAll(async () => {
    provider = createServer((req, res) => {
      req.resume();
      req.once('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: 'acme-access', refresh_token: 'acme-refresh', token_type: 'Bearer', expires_in: 3600 })),
      );
    }).listen(0, '127.0.0.1');
    await once(provider, 'listening');
    const base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    const acme = {
      type: 'custom',
      oauth: { authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: 'acme-client-secret' },
      apiBaseUrl: `${base}/api`,
      tools: {},
    };
    hub = await startHub({ integrations: { acme } }, { log: capturedLogger(lines, 'info') });
  });
  afterAll(async () => {
    await hub?.stop();
    provider?.closeAllConnections();
    await new Promise((r) => provider?.close(r));
  });

  it('answers 503 with Retry-After and "reload", and the reloaded callback links the account', async () => {
    const browser = new Browser();
    const link = hub.hub.integrations.accounts.linkUrl(ALICE, 'acme');
    const started = await confirmLink(browser, link);
    const state = new URL(locationOf(started, link)).searchParams.get('state');
    const callback = `${new URL(hub.url).origin}/oauth/callback?code=the-code&state=${state}`;

    // The flow's lookup fails as the PostgreSQL pool fails a query while the server restarts.
    const flows = hub.hub.store.flows;
    const find = flows.find.bind(flows);
    flows.find = () => Promise.reject(new HubError('store_failed', 'a database query failed: the database system is starting up'));
    let paused: Response;
    try {
      paused = await browser.get(callback);
    } finally {
      flows.find = find;
    }
    const page = await paused.text();
    expect(paused.status).toBe(503);
    expect(paused.headers.get('retry-after')).toBe('5');
    expect(page).toContain('Reload this page in a few seconds');
    expect(page).toContain('store_failed');
    expect(page).not.toContain('starting up');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['code'] === 'store_failed');
    expect(logged.map((l) => [l['level'], l['msg']])).toEqual([[40, 'linking waits for the store']]);

    const reloaded = await browser.get(callback);
    expect(reloaded.status, await reloaded.text()).toBe(200);
    expect((await hub.hub.integrations.connections.list({ user: 'alice' })).map((c) => [c.integration, c.state])).toEqual([['acme', 'active']]);
  });
});
