import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import { OAuthClient } from '../../src/oauth/client.js';
import { processStart } from '../../src/oauth/owner.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { CLIENT, link, startSandbox, type Harness } from '../sandbox/harness.js';

const LEASE_MS = 30_000;

/**
 * A refresh lease names its holder as host:pid:start:instance. One left by an earlier process
 * whose pid is now someone else's — this process's own, as for PID 1 on every container start —
 * must read as free at once, while a live holder's lease is still waited for. Time is the
 * injected clock: each poll of the waiter advances it, so no test waits for real.
 */
describe('a refresh lease left by an earlier process with a reused pid', () => {
  let h: Harness;
  let db: Db;
  let store: ConnectionStore;
  let manager: TokenManager;
  let waitedMs = 0;
  let live: ChildProcess;

  beforeAll(async () => {
    h = await startSandbox({ accessTokenTtlSeconds: 3600 });
    // A process that stays alive: the holder of a live lease.
    live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
    await new Promise((r) => live.once('spawn', r));
  });

  afterAll(async () => {
    live.kill('SIGKILL');
    await h.close();
  });

  beforeEach(() => {
    waitedMs = 0;
    db = openDb({ file: ':memory:', clock: h.clock });
    store = new ConnectionStore(db, new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock: h.clock }), h.clock);
    const client = new OAuthClient(
      {
        authorizeUrl: `${h.issuer}/oauth/authorize`,
        tokenUrl: `${h.issuer}/oauth/token`,
        revokeUrl: `${h.issuer}/oauth/revoke`,
        clientId: CLIENT.id,
        clientSecret: CLIENT.secret,
        scopes: ['read', 'write'],
      },
      h.clock,
    );
    const sleep = async (ms: number) => {
      waitedMs += ms;
      h.clock.advance(ms);
    };
    manager = new TokenManager({ store: sqliteConnections(store), clock: h.clock, log: silentLogger(), clientFor: () => client, leaseMs: LEASE_MS, sleep });
  });

  /** A linked connection whose access token is due for refresh, with a lease recorded under `owner`. */
  async function leasedConnection(user: string, owner: string): Promise<string> {
    const pair = await link({ issuer: h.issuer }, user);
    const c = await sqliteConnections(store).link({
      tenant: 'default',
      user,
      integration: 'sandbox',
      tokens: { accessToken: pair.access_token, refreshToken: pair.refresh_token, tokenType: 'Bearer', expiresAt: h.clock.now() + 30_000 },
      scopes: ['read', 'write'],
    });
    const now = h.clock.now();
    db.prepare('UPDATE connections SET refresh_owner = ?, refresh_until = ?, refresh_started_at = ? WHERE id = ?').run(owner, now + LEASE_MS, now, c.id);
    return c.id;
  }

  const host = hostname();
  const earlierStart = String(Number(processStart(process.pid)) - 1000);

  it('takes over at once a lease under its own pid from an earlier start, while another user waits for a live holder', async () => {
    // Side by side: alice's lease was left by this pid's earlier process, bob's is held by a live one.
    const alice = await leasedConnection('alice', `${host}:${process.pid}:${earlierStart}:0badf00d`);
    const bob = await leasedConnection('bob', `${host}:${live.pid}:${processStart(live.pid!)}:cafe0001`);
    const before = store.get(alice)!.tokenVersion;
    await manager.accessToken(alice);
    expect(waitedMs).toBe(0);
    expect(store.get(alice)).toMatchObject({ tokenVersion: before + 1, refreshOwner: null, refreshStartedAt: null });

    await manager.accessToken(bob);
    // Bob's call waited the live lease out on the injected clock, then refreshed.
    expect(waitedMs).toBeGreaterThanOrEqual(LEASE_MS);
    expect(waitedMs).toBeLessThan(LEASE_MS + 1_000);
    expect(store.get(bob)).toMatchObject({ refreshOwner: null, tokenVersion: 2 });
  });

  it('takes over at once a lease whose pid now belongs to another process that started later', async () => {
    const id = await leasedConnection('carol', `${host}:${live.pid}:1:0badf00d`);
    await manager.accessToken(id);
    expect(waitedMs).toBe(0);
    expect(store.get(id)!.tokenVersion).toBe(2);
  });

  it('takes over at once a lease in the format without a start time, under its own pid', async () => {
    const id = await leasedConnection('dave', `${host}:${process.pid}:0badf00d`);
    await manager.accessToken(id);
    expect(waitedMs).toBe(0);
    expect(store.get(id)!.tokenVersion).toBe(2);
  });

  it('never takes a lease held by another instance of this same process', async () => {
    const other = new TokenManager({
      store: sqliteConnections(store),
      clock: h.clock,
      log: silentLogger(),
      clientFor: () => {
        throw new Error('unused');
      },
    });
    const id = await leasedConnection('erin', other.owner);
    await manager.accessToken(id);
    expect(waitedMs).toBeGreaterThanOrEqual(LEASE_MS);
  });
});
