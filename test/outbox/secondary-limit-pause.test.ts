import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, type FaceClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

/**
 * GitHub's secondary rate limit may come as a 403 (or 429) naming no wait, only its words: "You
 * have exceeded a secondary rate limit. Please wait a few minutes before you try again." Its REST
 * API docs ("Rate limits", "Exceeding the rate limit") then ask to wait at least a minute before
 * the next request, warning that continuing to send while limited may get the integration banned.
 * The account's bucket holds every request back for that minute, as a Retry-After would. The
 * provider is a local server speaking GitHub's answers.
 */

let server: Server | undefined;
let hub: RunningHub | undefined;
let client: FaceClient | undefined;

afterEach(async () => {
  await client?.close().catch(() => {});
  await hub?.stop();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

describe('a secondary rate limit named only in the body', () => {
  it('pauses the account: nothing more is sent to GitHub for a minute', { timeout: 30_000 }, async () => {
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(403, { 'content-type': 'application/json; charset=utf-8' }).end(
        JSON.stringify({
          message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
        }),
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hub = await startHub({
      integrations: {
        github: {
          type: 'custom',
          title: 'GitHub',
          oauth: { authorizeUrl: `${origin}/authorize`, tokenUrl: `${origin}/token`, clientId: 'hub', clientSecret: 's' },
          apiBaseUrl: `${origin}/api`,
          rateLimit: { perConnection: { perSecond: 10, burst: 10 } },
          api: { timeoutMs: 2_000 },
          tools: { get_repo: { description: 'repo', method: 'GET', path: '/repos/o/r', readOnly: true } },
        },
      },
    });
    await hub.hub.integrations.connections.link({
      tenant: 'default',
      user: 'alice',
      integration: 'github',
      tokens: { accessToken: 'gho_x', tokenType: 'Bearer' },
      scopes: [],
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });

    const first = await client.callTool('github__get_repo', {});
    expect(first.isError).toBe(true);
    expect(requests).toHaveLength(1);

    const second = await client.callTool('github__get_repo', {});
    expect(second.isError).toBe(true);
    // Refused here, unsent, saying when to retry.
    expect(requests).toHaveLength(1);
    expect((second.content as Array<{ text: string }>)[0]?.text).toMatch(/nothing was sent/);
  });
});
