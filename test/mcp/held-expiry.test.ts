import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterEach, describe, expect, it } from 'vitest';
import { DownstreamCalls } from '../../src/mcp/downstream/calls.js';
import type { CallContext } from '../../src/mcp/source.js';
import { localIdentity } from '../../src/identity/identity.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ASKING } from '../helpers/asking.js';
import { eventually } from '../helpers/hub.js';

/**
 * A 2026-07-28 caller that never comes back for its next round: the downstream call the hub held
 * for it ends when the hold expires, and the connection is idle again (else the idle sweep would
 * never close the identity's own process or session).
 */
describe('a held call whose caller never comes back', () => {
  let client: Client | undefined;
  afterEach(async () => client?.close());

  it('ends when its hold expires and leaves the connection idle', async () => {
    // The hub's way: a client that can be asked, its requests routed to the call they belong to.
    client = new Client(
      { name: 'hub-like', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: { form: {} } }, versionNegotiation: { mode: 'legacy' } },
    );
    const calls = new DownstreamCalls({
      name: 'ask',
      config: { command: process.execPath, args: [ASKING, '--v1-stdio'] } as never,
      unavailable: () => 'not available',
      failure: (err) => {
        throw err;
      },
      heldTtlMs: 300,
    });
    calls.install(client, silentLogger(), { roots: false });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [ASKING, '--v1-stdio'] }));
    const ctx = (user: string): CallContext => ({
      identity: localIdentity(user),
      signal: new AbortController().signal,
      notify: async () => {},
      clientCapabilities: { elicitation: { form: {} }, sampling: {} },
    });
    // No `request` on the context: a 2026-07-28 caller, so the 2025-era server's question comes back as input_required.
    const r = await calls.callTool(client, 'transfer', { account: 'A-1' }, ctx('alice'));
    expect(r).toMatchObject({ resultType: 'input_required' });
    expect(JSON.stringify(r)).toContain('Confirm transfer for A-1');
    expect(calls.busy).toBeGreaterThan(0);
    // The caller does not retry: past the hold the downstream call ends, and nothing keeps the connection busy.
    await eventually(() => calls.busy === 0 || undefined, 5_000, 20);
  });
});
