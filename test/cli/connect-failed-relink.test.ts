import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCli, stopCli, type RunningCli } from '../helpers/cli-process.js';
import { eventually, tmpDir } from '../helpers/hub.js';
import { Browser, followLink } from '../integrations/browser.js';
import { connectMcp } from '../integrations/mcp.js';

/**
 * `switchboard connect` for an account that is already linked (to link it again) waits for the
 * flow its link starts. When that flow fails (consent denied), a refresh of the account's
 * existing tokens meanwhile also writes the connection: the command must not take it for the
 * link and print "linked", since nothing was linked. Over real processes: `serve` hosting the
 * sandbox, the CLI, a browser, and a 2026-era MCP client whose call makes the refresh.
 */

describe('switchboard connect to link an account again', () => {
  let dir: ReturnType<typeof tmpDir>;
  let data: string;
  const running: RunningCli[] = [];
  const run = (args: string[]) => {
    const r = startCli(args, dir.path);
    running.push(r);
    return r;
  };

  beforeEach(() => {
    dir = tmpDir('switchboard-relink-');
    data = join(dir.path, 'data');
  });
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await stopCli(r);
    dir.remove();
  });

  it('does not report "linked" when its flow was denied and the old tokens were refreshed meanwhile', { timeout: 60_000 }, async () => {
    const serve = run(['serve', '--data', data, '--port', '0']);
    const served = await eventually(() => /serving MCP at (\S+)/.exec(serve.stdout())?.[1], 20_000);
    const port = String(new URL(served).port);

    // Alice links her sandbox account, and bob his: both active.
    for (const user of ['alice', 'bob']) {
      const first = run(['connect', 'sandbox', '--user', user, '--data', data, '--port', port, '--no-wait']);
      expect(await first.exit).toBe(0);
      const done = await followLink(new Browser(), first.stdout().trim(), `${user}-at-sandbox`);
      expect(done.status, done.html).toBe(200);
    }

    // She runs connect again, and denies at the provider.
    const again = run(['connect', 'sandbox', '--user', 'alice', '--data', data, '--port', port, '--timeout', '6']);
    const link = await eventually(() => /^(\S+)\n/.exec(again.stdout())?.[1], 20_000);
    const denied = await followLink(new Browser(), link, 'alice-at-sandbox', 'deny');
    expect(denied.status).toBe(400);
    expect(denied.html).toContain('access was denied');

    // Her existing token is refreshed by a call of hers (its expiry moved into the past).
    const db = new Database(join(data, 'switchboard.db'));
    db.pragma('busy_timeout = 5000');
    try {
      expect(db.prepare("UPDATE connections SET access_expires_at = 1 WHERE user_id = 'alice'").run().changes).toBe(1);
    } finally {
      db.close();
    }
    const token = run(['tokens', 'create', '--user', 'alice', '--data', data]);
    expect(await token.exit).toBe(0);
    const mcp = await connectMcp(served, token.stdout().trim(), { era: 'auto' });
    try {
      const r = await mcp.call('sandbox__whoami');
      expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
    } finally {
      await mcp.close();
    }

    expect(await again.exit).toBe(1);
    expect(again.stdout()).not.toContain('linked:');
    expect(again.stderr()).toContain('not linked within 6 s');

    // Linked again for real (her tokens refreshed before it), it is reported as it was.
    const third = run(['connect', 'sandbox', '--user', 'alice', '--data', data, '--port', port, '--timeout', '30']);
    const link3 = await eventually(() => /^(\S+)\n/.exec(third.stdout())?.[1], 20_000);
    expect((await followLink(new Browser(), link3, 'alice-at-sandbox')).status).toBe(200);
    expect(await third.exit).toBe(0);
    expect(third.stdout()).toMatch(/\nlinked: conn_[A-Za-z0-9_-]+\n$/);
  });
});
