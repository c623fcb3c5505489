import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { accountLearner } from '../../src/integrations/account-id.js';
import type { IntegrationDefinition } from '../../src/integrations/definition.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { ProviderClient } from '../../src/providers/client.js';

/**
 * An account id read off the token response (`"account": { "from": "token:team.id" }`) keeps its
 * digits past 2^53: 1234567890123456789 read with JSON.parse is 1234567890123456800, another
 * account's id, and webhooks would route to the wrong connection.
 */
describe('an account id in the token response', () => {
  const clock = manualClock(1_800_000_000_000);
  let server: Server;
  let answer = '';
  let client: OAuthClient;

  beforeAll(async () => {
    server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new OAuthClient({ authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'c', clientSecret: 's', scopes: [] }, clock);
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const redeem = () => client.redeemCode({ code: 'code', redirectUri: 'http://127.0.0.1/cb', codeVerifier: 'v'.repeat(43) });

  it('is learned digit for digit past 2^53, and the token set is read as before', async () => {
    answer = '{"access_token":"xoxb-1","token_type":"bearer","expires_in":"3600","refresh_token":"r1","team":{"id":1234567890123456789,"n":5}}';
    const exchange = await redeem();
    expect(exchange.tokens).toEqual({
      accessToken: 'xoxb-1',
      tokenType: 'bearer',
      refreshToken: 'r1',
      expiresAt: clock.now() + 3_600_000,
      obtainedAt: clock.now(),
    });
    // The definition's `account` block as the config makes it; a token-response id asks the API nothing.
    const definition = { name: 'acme', title: 'Acme', account: { from: { kind: 'token', path: ['team', 'id'] } } } as unknown as IntegrationDefinition;
    const learn = accountLearner(definition, {} as ProviderClient, silentLogger());
    expect(await learn?.(exchange)).toBe('1234567890123456789');
  });

  it('an answer that is not a JSON object, or names an error, is still refused as before', async () => {
    answer = '<p>hello</p>';
    await expect(redeem()).rejects.toMatchObject({ name: 'OAuthGrantError', error: 'invalid_token_response', status: 200 });
    answer = '{"ok":false,"error":"invalid_code"}';
    await expect(redeem()).rejects.toMatchObject({ name: 'OAuthGrantError', error: 'invalid_code', status: 200 });
  });
});
