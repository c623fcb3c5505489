/**
 * A token endpoint and a revocation endpoint that quote back what they were sent in their error
 * descriptions (the refresh token, the Basic client credentials): through a real MCP client, the
 * tool result, the connection's stored reason, the revocation's warning and the hub's log never
 * carry them. After invalid_client the refresh token is still good, so showing it leaks a live grant.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';
import { connectMcp, type McpUser } from '../integrations/mcp.js';

const CLIENT_SECRET = 'cs_9f3c2a77d1e04b6b';
const BASIC = Buffer.from(`acme-client:${CLIENT_SECRET}`).toString('base64');

describe('secrets a provider quotes back in its errors', () => {
  const clock = manualClock(Date.now());
  const lines: string[] = [];
  let server: Server;
  let hub: RunningHub;
  let mcp: McpUser;
  /** What the token endpoint refuses with next. */
  let refusal: 'invalid_client' | 'invalid_grant' = 'invalid_client';

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const token = new URLSearchParams(body).get(req.url === '/revoke' ? 'token' : 'refresh_token');
        const json = (status: number, value: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (req.url === '/token' && refusal === 'invalid_client')
          return json(401, {
            error: 'invalid_client',
            error_description: `client authentication failed for ${req.headers.authorization} (refresh_token=${token})`,
          });
        if (req.url === '/token') return json(400, { error: 'invalid_grant', error_description: `refresh token ${token} is not valid` });
        if (req.url === '/revoke')
          return json(400, { error: 'unsupported_token_type', error_description: `cannot revoke ${token} for ${req.headers.authorization}` });
        json(401, { message: 'Bad credentials' });
      });
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hub = await startHub(
      {
        integrations: {
          acme: {
            type: 'custom',
            title: 'Acme',
            oauth: {
              authorizeUrl: `${base}/authorize`,
              tokenUrl: `${base}/token`,
              revokeUrl: `${base}/revoke`,
              clientId: 'acme-client',
              clientSecret: CLIENT_SECRET,
            },
            apiBaseUrl: `${base}/api`,
            tools: { me: { description: 'The account', method: 'GET', path: '/me', readOnly: true } },
          },
        },
      },
      { clock, log: capturedLogger(lines) },
    );
    mcp = await connectMcp(hub.url, hub.token, { era: 'auto' });
  });
  afterAll(async () => {
    await mcp?.close();
    await hub?.stop();
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const connections = () => hub.hub.integrations.accounts.connections;
  async function linked(refreshToken: string) {
    return connections().link({
      tenant: 'default',
      user: 'alice',
      integration: 'acme',
      tokens: { accessToken: `at_${refreshToken}`, refreshToken, tokenType: 'Bearer', expiresAt: clock.now() + 1_000 },
      scopes: [],
    });
  }
  const expectClean = (text: string, refreshToken: string) => {
    for (const secret of [refreshToken, CLIENT_SECRET, BASIC]) expect(text).not.toContain(secret);
  };

  it('a refusal of the client quoting the live refresh token and the Basic credentials', async () => {
    const refreshToken = 'rt_live_5b1f0c9e2d7a4e88';
    refusal = 'invalid_client';
    await linked(refreshToken);
    clock.advance(5_000);
    const r = await mcp.call('acme__me', {});
    const text = JSON.stringify(r.content);
    expect(text).toContain('invalid_client: client authentication failed for Basic [redacted] (refresh_token=[redacted])');
    expectClean(text, refreshToken);
    expectClean(lines.join(''), refreshToken);
  });

  it('a refusal of the grant quoting the refresh token: not in the result nor in the stored reason', async () => {
    const refreshToken = 'rt_old_c0ffee1234567890';
    refusal = 'invalid_grant';
    const c = await linked(refreshToken);
    clock.advance(5_000);
    const r = await mcp.call('acme__me', {});
    const text = JSON.stringify(r.content);
    expect(text).toContain('invalid_grant: refresh token [redacted] is not valid');
    expectClean(text, refreshToken);
    const row = await connections().get(c.id);
    expect(row?.state).toBe('needs_reauth');
    expectClean(row?.reason ?? '', refreshToken);
    expectClean(lines.join(''), refreshToken);
  });

  it("a revocation endpoint's refusal quoting the token: not in the warning", async () => {
    const refreshToken = 'rt_revoked_aa11bb22cc33';
    const c = await linked(refreshToken);
    const { warning } = await hub.hub.integrations.accounts.revoke(c);
    expect(warning).toContain('unsupported_token_type: cannot revoke [redacted] for Basic [redacted]');
    expectClean(warning ?? '', refreshToken);
    expectClean(lines.join(''), refreshToken);
  });
});
