/**
 * After a whole account lifecycle — link, calls, refresh, revoke — neither the hub's files nor
 * anything it logged (at trace level) holds a token the provider issued or the client secret.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { TOOL, linkIn, startOidcHub } from './support.js';
import { capturedLogger } from '../helpers/log.js';

describe('secrets at rest and in logs', () => {
  let oidc: OidcServer;
  let hub: RunningHub;
  let client: FaceClient;
  const clock = manualClock(Date.now());
  const logLines: string[] = [];
  const codes: string[] = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    hub = await startOidcHub(oidc, { logLevel: 'trace' }, { clock, log: capturedLogger(logLines, 'trace') });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  });

  afterAll(async () => {
    await client?.close();
    await hub?.stop();
    await oidc?.close();
  });

  /** Every file in the data dir that contains the secret, by name. */
  const filesHolding = (secret: string): string[] =>
    readdirSync(hub.dataDir)
      .filter((f) => statSync(join(hub.dataDir, f)).isFile() && readFileSync(join(hub.dataDir, f)).includes(secret))
      .sort();

  it('keeps tokens and the client secret out of the database files and the log', async () => {
    // Link, with the link a tool call hands out.
    const browser = new Browser();
    const link = linkIn(await client.callTool(TOOL, {}));
    const callback = await browser.authorize(link, { login: 'alice@acme' });
    codes.push(new URL(callback).searchParams.get('code')!);
    expect((await browser.get(callback)).status).toBe(200);

    for (let i = 0; i < 3; i++) expect((await client.callTool(TOOL, {})).isError).toBe(false);
    // Two refreshes, each rotating the refresh token.
    for (let round = 0; round < 2; round++) {
      clock.advance(3600_000 + 1);
      const results = await Promise.all(Array.from({ length: 5 }, () => client.callTool(TOOL, {})));
      expect(results.map((r) => r.isError)).toEqual([false, false, false, false, false]);
    }
    expect(oidc.tokenRequests('refresh_token')).toBe(2);

    // Revoke from the /connect page, as the user would.
    const enter = await browser.get(hub.hub.integrations.accounts.connectUrl({ tenant: 'default', user: 'alice', scopes: [] }));
    expect(enter.status).toBe(303);
    const page = await (await browser.get(`http://127.0.0.1:${hub.port}/connect`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(csrf).toBeDefined();
    const revoked = await browser.post(`http://127.0.0.1:${hub.port}/connect/revoke`, { integration: 'acme', csrf: csrf! });
    expect(revoked.status).toBe(303);
    const location = revoked.headers.get('location') ?? '';
    expect(location).toBe('/connect?revoked=acme&confirmed=yes');
    expect(await (await browser.get(`http://127.0.0.1:${hub.port}${location}`)).text()).toContain('Revoked acme.');
    expect(oidc.revocations()).toBe(1);
    const after = await client.callTool(TOOL, {});
    expect(after.isError).toBe(true);
    expect(textOf(after)).toContain('/oauth/acme/start?link=');

    const issued = oidc.tokens();
    // 1 code exchange and 2 refreshes, each with an access and a (rotated) refresh token.
    expect(new Set(issued).size).toBe(6);
    const secrets = [...issued, oidc.clientSecret, ...codes];
    const files = readdirSync(hub.dataDir);
    expect(files).toEqual(expect.arrayContaining(['switchboard.db', 'switchboard.db-wal']));
    expect(statSync(join(hub.dataDir, 'switchboard.db-wal')).size).toBeGreaterThan(0);
    const log = logLines.join('');
    // The log did record the lifecycle: the check below is about a log that has content.
    expect(log).toContain('account linked');
    expect(log).toContain('access token refreshed');
    for (const secret of secrets) {
      expect(filesHolding(secret), `a stored file holds ${secret.slice(0, 6)}…`).toEqual([]);
      expect(log.includes(secret), `the log holds ${secret.slice(0, 6)}…`).toBe(false);
    }

    // Closing checkpoints the WAL into the database file; nothing may surface there either.
    await client.close();
    const dir = hub.dataDir;
    await hub.hub.stop();
    for (const secret of secrets) {
      const holding = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile() && readFileSync(join(dir, f)).includes(secret));
      expect(holding).toEqual([]);
    }
  });
});
