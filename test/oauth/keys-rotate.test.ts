/**
 * `switchboard keys rotate` is an online operation: a serve process on the same data dir keeps
 * answering tool calls (and refreshing tokens) while it runs, and afterwards a freshly started
 * process opens the same connection with the new master key alone.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../src/vault/master-keys.js';
import { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type CallResult, type FaceClient } from '../helpers/clients.js';
import { tmpDir } from '../helpers/hub.js';
import {
  TOOL,
  connectionRows,
  createToken,
  expireAccessToken,
  hubConfig,
  linkIn,
  linkWithBrowser,
  openHubDb,
  runCli,
  serve,
  writeConfig,
  type ServeProcess,
} from './support.js';

// Hub processes, a rotation and a restart per test: 12–20 s on an idle 2-core machine, so the
// default 30 s leaves too little room on a loaded one.
describe('master key rotation under load', { timeout: 90_000 }, () => {
  const dir = tmpDir();
  const keyFile = join(dir.path, 'master.key');
  let oidc: OidcServer;
  let configFile: string;
  const running: ServeProcess[] = [];
  const clients: FaceClient[] = [];

  beforeAll(async () => {
    oidc = await startOidcServer();
    configFile = writeConfig(dir.path, hubConfig(oidc, { logLevel: 'warn' }));
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const p of running) await p.kill();
    await oidc?.close();
    dir.remove();
  });

  it('fails no call while rotating, and the connection works in a fresh process afterwards', async () => {
    const token = await createToken(configFile, dir.path, 'alice');
    const hub = await serve(configFile, dir.path, oidc);
    running.push(hub);
    const client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token });
    clients.push(client);
    await linkWithBrowser(new Browser(), linkIn(await client.callTool(TOOL, {})), 'alice@acme');
    const oldRing = readKeyFile(keyFile);
    const db = openHubDb(dir.path);
    const id = connectionRows(db)[0]!.id;

    // Four callers in a loop; every tenth call first expires the access token, so refreshes —
    // which decrypt and re-encrypt the token set — run while the keys are being rotated.
    const results: CallResult[] = [];
    let rotating = true;
    let duringRotation = 0;
    const worker = async (w: number) => {
      for (let i = 0; rotating || i < 5; i++) {
        if ((i + w) % 10 === 0) expireAccessToken(db, id);
        const wasRotating = rotating;
        results.push(await client.callTool(TOOL, {}));
        if (wasRotating && rotating) duringRotation++;
      }
    };
    const workers = Promise.all([0, 1, 2, 3].map(worker));
    const rotate = await runCli(['keys', 'rotate', '--config', configFile, '--data', dir.path], dir.path);
    rotating = false;
    await workers;

    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toMatch(/Rotated: [1-9]\d* data key\(s\) re-wrapped under mk_\w+; 1 old key\(s\) removed/);
    expect(duringRotation).toBeGreaterThan(0);
    expect(results.filter((r) => r.isError).map(textOf)).toEqual([]);
    expect(oidc.tokenRequests('refresh_token')).toBeGreaterThan(0);

    const newRing = readKeyFile(keyFile);
    expect(newRing.keys.map((k) => k.id)).toEqual([newRing.active.id]);
    expect(newRing.active.id).not.toBe(oldRing.active.id);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).not.toContain(oldRing.active.key.toString('base64'));

    // A fresh process: it has only the new key, and must both use and refresh the stored tokens.
    await client.close();
    await hub.kill();
    const fresh = await serve(configFile, dir.path, oidc);
    running.push(fresh);
    const again = await connectClient('v2-auto', { transport: 'http', url: fresh.url, token });
    clients.push(again);
    const ok = await again.callTool(TOOL, {});
    expect(ok.isError, textOf(ok)).toBe(false);
    const refreshes = oidc.tokenRequests('refresh_token');
    expireAccessToken(db, id);
    const refreshed = await again.callTool(TOOL, {});
    expect(refreshed.isError, textOf(refreshed)).toBe(false);
    expect(oidc.tokenRequests('refresh_token')).toBe(refreshes + 1);
    expect(connectionRows(db)[0]).toMatchObject({ id, state: 'active' });
    db.close();
  });

  // A hub that was running during `keys rotate` must wrap a new tenant's data key with the new
  // master key (it re-reads the key file first), or the next start would refuse the data dir.
  it('keeps data keys created by a hub that was running during the rotation readable after a restart', async () => {
    const data = tmpDir();
    const config = writeConfig(data.path, hubConfig(oidc, { logLevel: 'warn' }));
    const alice = await createToken(config, data.path, 'alice');
    const carol = await createToken(config, data.path, 'carol', 'globex');
    const hub = await serve(config, data.path, oidc);
    running.push(hub);
    try {
      const a = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: alice });
      await linkWithBrowser(new Browser(), linkIn(await a.callTool(TOOL, {})), 'alice@acme');
      await a.close();
      expect((await runCli(['keys', 'rotate', '--config', config, '--data', data.path], data.path)).code).toBe(0);
      // A user of a tenant with no data key yet links through the hub that was running all along.
      const c = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: carol });
      await linkWithBrowser(new Browser(), linkIn(await c.callTool(TOOL, {})), 'carol@globex');
      expect((await c.callTool(TOOL, {})).isError).toBe(false);
      await c.close();
      await hub.kill();

      const fresh = await serve(config, data.path, oidc);
      running.push(fresh);
      for (const token of [alice, carol]) {
        const client = await connectClient('v2-auto', { transport: 'http', url: fresh.url, token });
        const r = await client.callTool(TOOL, {});
        await client.close();
        expect(r.isError, textOf(r)).toBe(false);
      }
    } finally {
      for (const p of running.splice(0)) await p.kill();
      data.remove();
    }
  });
});
