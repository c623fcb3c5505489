/**
 * A call that needs an account link answers with the link as an isError result when the client
 * cannot be shown it (no URL elicitation): that result carries the hub's code as every failed call
 * does (docs/errors.md), `connection_required` when the caller never linked and
 * `connection_needs_reauth` when the link must be made again, neither retryable. A real hub on
 * loopback with the sandbox integration; the v2 SDK client on both eras and the 1.x SDK client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

describe('a tool called before its account is linked', () => {
  let hub: RunningHub;
  let bobToken: string;

  beforeAll(async () => {
    hub = await startHub({ integrations: { sandbox: {} } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const repo = hub.hub.integrations.connections;
    const bob = await repo.link({ tenant: 'default', user: 'bob', integration: 'sandbox', tokens: { accessToken: 'at-bob', tokenType: 'Bearer' }, scopes: [] });
    expect(await repo.markNeedsReauth(bob.id, 'the provider refused the refresh token')).toBe(true);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it.each(CLIENT_KINDS)('%s: never linked is connection_required, a link to make again connection_needs_reauth', async (kind) => {
    const alice = await connectClient(kind, { transport: 'http', url: hub.url, token: hub.token });
    const bob = await connectClient(kind, { transport: 'http', url: hub.url, token: bobToken });
    try {
      const never = await alice.callTool('sandbox__whoami', {});
      expect(never).toMatchObject({ isError: true, errorCode: 'connection_required' });
      expect(JSON.stringify(never.content)).toContain('Link your Sandbox Tickets account to use this tool.');
      const again = await bob.callTool('sandbox__whoami', {});
      expect(again).toMatchObject({ isError: true, errorCode: 'connection_needs_reauth' });
      expect(JSON.stringify(again.content)).toContain('Your Sandbox Tickets connection needs to be linked again (the provider refused the refresh token).');
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('v1: the whole code object, not retryable', async () => {
    const v1 = new Client({ name: 'link-needed', version: '1.0.0' });
    await v1.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    try {
      const r = await v1.callTool({ name: 'sandbox__whoami', arguments: {} });
      expect(r.isError).toBe(true);
      expect(r._meta?.['switchboard/error']).toEqual({ code: 'connection_required', retryable: false });
    } finally {
      await v1.close();
    }
  });
});
