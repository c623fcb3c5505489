/**
 * A read of a URI from a server's resource template goes to that server alone. It was asked of
 * every ready server in config order: a server listed first that answers any URI (many do) got the
 * other server's URI, and its text came back as that server's resource.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpTransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { bearerClient } from '../helpers/clients.js';
import { ROOT, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

const ANY_READ = join(ROOT, 'dist/test/fixtures/any-read-server.js');
const STATEFUL = join(ROOT, 'dist/test/fixtures/stateful-server.js');

describe('resources/read of a templated URI', () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tmpDir>;
  let log: string;
  const open: Array<{ close(): Promise<void> }> = [];
  /** The 1.x SDK's client (2025-11-25) or the v2 SDK's (2026-07-28 by default), as users connect. */
  async function reader(kind: 'v1' | 'v2'): Promise<{ readResource: (p: { uri: string }) => Promise<{ contents: unknown[] }> }> {
    if (kind === 'v2') {
      const c = await bearerClient(hub.url, hub.token);
      open.push(c);
      return c;
    }
    const c = new ClientV1({ name: 'read-owner', version: '1.0.0' });
    await c.connect(new HttpTransportV1(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    dir = tmpDir('switchboard-read-owner-');
    log = join(dir.path, 'asked.log');
    writeFileSync(log, '');
    hub = await startHub({
      mcpServers: {
        // First in the config, and it answers any URI it is asked for.
        other: { command: process.execPath, args: [ANY_READ], env: { ANY_READ_LOG: log } },
        counters: { command: process.execPath, args: [STATEFUL, 'counter'] },
      },
    });
    await hub.hub.ready();
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await hub?.stop();
    dir?.remove();
  });

  it.each(['v1', 'v2'] as const)('%s client: the template owner answers, and no other server is handed the URI', async (kind) => {
    const c = await reader(kind);
    const r = await c.readResource({ uri: 'counter://apples' });
    expect(r.contents).toEqual([expect.objectContaining({ uri: 'counter://apples', text: '0' })]);
    expect(readFileSync(log, 'utf8')).toBe('');
  });

  it('a URI no server lists or templates is still asked of each server in turn, as before', async () => {
    const c = await reader('v1');
    const r = await c.readResource({ uri: 'misc://unclaimed' });
    expect(r.contents[0]).toMatchObject({ text: 'any-read answered misc://unclaimed' });
  });
});
