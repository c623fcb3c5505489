import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Hub } from '../../src/hub.js';
import { identityKey } from '../../src/identity/identity.js';
import type { SourceChange } from '../../src/mcp/source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { hostedSandbox } from '../../servers/sandbox/hosted.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

/**
 * The sandbox polls its events feed for every active connection; this test links with made-up
 * tokens, which a poll would (rightly) find invalid, moving the connection to needs_reauth. What
 * is tested here is the connection feed between processes, so the pollers' timer never fires.
 */
const polling = { timer: { set: () => undefined, clear: () => {} } };

describe('connections changed by another process on the same data dir', () => {
  let a: RunningHub;
  let b: Hub;
  const heard: SourceChange[] = [];

  beforeAll(async () => {
    a = await startHub({ integrations: { sandbox: {} } }, { polling });
    // A second hub on the same files, as a stdio hub beside a serve would be.
    b = new Hub({
      config: configSchema.parse({ integrations: { sandbox: {} }, dataDir: a.dataDir, server: { port: a.port } }),
      log: silentLogger(),
      hosted: [hostedSandbox()],
      polling,
    });
    b.catalog.onChange((c) => heard.push(c));
    b.start();
    await b.ready();
  });

  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it('tells this process’s clients when an account is linked or revoked elsewhere', async () => {
    const who = { tenant: 'default', user: 'bob', scopes: [] };
    const c = await a.hub.integrations.accounts.connections.link({
      ...who,
      integration: 'sandbox',
      tokens: { accessToken: 'at-1', refreshToken: 'rt-1', tokenType: 'Bearer' },
      scopes: ['read'],
    });
    const forBob = () => heard.find((h) => h.kind === 'tools' && h.identities?.some((i) => identityKey(i) === identityKey(who)));
    await eventually(forBob, 10_000);
    const tools = b.catalog.view(who).tools.filter((t) => t.source.name === 'sandbox');
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((t) => t.listed._meta?.['switchboard/connection'] === 'active')).toBe(true);

    heard.length = 0;
    await a.hub.integrations.accounts.connections.markRevoked(c.id, 'revoked by the user');
    await eventually(forBob, 10_000);
    expect(b.catalog.view(who).tools.find((t) => t.source.name === 'sandbox')?.listed._meta?.['switchboard/connection']).toBe('unlinked');
  });
});
