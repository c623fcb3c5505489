import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { OAuthClient } from '../../src/oauth/client.js';

/**
 * RFC 7009 §2.2: the revocation endpoint answers 200 when the token was revoked (or was already
 * invalid). Any other answer — a redirect to a login page, a 204 — says nothing was revoked, and
 * `connections revoke` must not tell the user "the provider confirmed" while the tokens still work.
 */
describe('a revocation endpoint that does not answer 200', () => {
  const clock = manualClock(1_800_000_000_000);
  let server: Server;
  let answer: { status: number; headers?: Record<string, string>; body?: string } = { status: 200 };
  const seen: Array<{ path: string; authorization: string | undefined; form: Record<string, string> }> = [];
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', authorization: req.headers.authorization, form: Object.fromEntries(new URLSearchParams(raw)) });
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => {
    seen.length = 0;
  });

  const client = (tokenAuth?: 'body') =>
    new OAuthClient(
      {
        authorizeUrl: `${base}/authorize`,
        tokenUrl: `${base}/token`,
        revokeUrl: `${base}/revoke`,
        clientId: 'c:1',
        clientSecret: 's 2',
        scopes: [],
        ...(tokenAuth ? { tokenAuth } : {}),
      },
      clock,
    );
  const tokens = { accessToken: 'at', refreshToken: 'rt', tokenType: 'bearer' };

  it('a 302 to a login page is not a revocation, and the redirect is not followed', async () => {
    answer = { status: 302, headers: { location: '/login?next=/revoke' } };
    await expect(client().revoke(tokens)).rejects.toMatchObject({
      code: 'oauth_grant_rejected',
      message: 'revocation_not_confirmed: revocation endpoint answered 302, not 200',
    });
    expect(seen.map((s) => s.path)).toEqual(['/revoke']);
  });

  it.each([301, 303, 307, 308, 204, 202])('nor is a %i', async (status) => {
    answer = { status, headers: { location: `${base}/elsewhere` } };
    await expect(client().revoke(tokens)).rejects.toMatchObject({
      status,
      message: `revocation_not_confirmed: revocation endpoint answered ${status}, not 200`,
    });
    expect(seen.map((s) => s.path)).toEqual(['/revoke']);
  });

  it('a 200 is, with the refresh token and the client authenticated as at the token endpoint', async () => {
    answer = { status: 200 };
    await expect(client().revoke(tokens)).resolves.toBe(true);
    await expect(client('body').revoke({ accessToken: 'at', tokenType: 'bearer' })).resolves.toBe(true);
    expect(seen).toEqual([
      { path: '/revoke', authorization: `Basic ${Buffer.from('c%3A1:s+2').toString('base64')}`, form: { token: 'rt', token_type_hint: 'refresh_token' } },
      { path: '/revoke', authorization: undefined, form: { token: 'at', token_type_hint: 'access_token', client_id: 'c:1', client_secret: 's 2' } },
    ]);
  });

  it("a refusal names the provider's OAuth error, and a 503 is transient", async () => {
    answer = { status: 400, headers: { 'content-type': 'application/json' }, body: '{"error":"unsupported_token_type"}' };
    await expect(client().revoke(tokens)).rejects.toMatchObject({ name: 'OAuthGrantError', error: 'unsupported_token_type', status: 400 });
    answer = { status: 503 };
    await expect(client().revoke(tokens)).rejects.toMatchObject({ name: 'OAuthTransientError', status: 503 });
  });
});
