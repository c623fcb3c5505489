/**
 * Connections, data keys and hub secrets on PostgreSQL: the SQLite contracts (test/store/contracts)
 * on one migrated database for the file, emptied between tests, and what only several replicas
 * can show — two pools racing on what must happen once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manualClock } from '../../src/clock.js';
import { PgConnections } from '../../src/connections/pg.js';
import type { TokenSet } from '../../src/connections/types.js';
import { PgHubSecrets } from '../../src/store/pg-hub-secrets.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { PgDataKeys } from '../../src/vault/pg-data-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { describePg, type MigratedDatabase, migratedDatabase } from '../helpers/postgres.js';
import { connectionWebhooksContract } from '../store/contracts/connection-webhooks.js';
import { connectionRepositoryContract } from '../store/contracts/connections.js';
import { dataKeyStoreContract } from '../store/contracts/data-keys.js';
import { secretStoreContract } from '../store/contracts/secrets.js';

const clock = manualClock();
let pg: MigratedDatabase;
/** A second pool on the same database: another replica. */
let second: PgStore;

/** Two replicas: each its own pool and its own vault over that pool, one master key between them. */
function replicas() {
  const ring = ephemeralRing();
  return [pg.store, second].map((db) => ({ db, vault: new Vault({ keys: new PgDataKeys(db), ring, clock }) })) as [
    { db: PgStore; vault: Vault },
    { db: PgStore; vault: Vault },
  ];
}

const tokens = (n: number): TokenSet => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, tokenType: 'Bearer' });
const alive = () => false;
const count = (values: readonly unknown[], v: unknown) => values.filter((x) => x === v).length;

describePg('PostgreSQL repositories: connections, data keys, hub secrets', () => {
  // Inside the describe: a skipped suite runs none of its hooks.
  beforeAll(async () => {
    pg = await migratedDatabase(clock);
    second = openPgStore({ url: pg.url });
  });
  afterAll(async () => {
    await second?.close();
    await pg?.drop();
  });
  beforeEach(async () => {
    await pg.reset();
  });

  connectionRepositoryContract('PostgreSQL', () => {
    const [a] = replicas();
    return { repo: new PgConnections(a.db, a.vault, clock), advance: (ms) => clock.advance(ms), now: () => clock.now() };
  });

  connectionWebhooksContract('PostgreSQL', () => {
    const [a, b] = replicas();
    return {
      repo: new PgConnections(a.db, a.vault, clock),
      other: new PgConnections(b.db, b.vault, clock),
      storedSecret: (id) =>
        pg.store.one(
          'SELECT webhook_secret FROM connections WHERE id = $1',
          [id],
          (r) => z.object({ webhook_secret: z.string().nullable() }).parse(r).webhook_secret,
        ),
    };
  });

  dataKeyStoreContract('PostgreSQL', () => ({ keys: new PgDataKeys(pg.store), other: new PgDataKeys(second), now: () => clock.now() }));

  secretStoreContract('PostgreSQL', () => {
    const [a, b] = replicas();
    return { a: new PgHubSecrets(a.db, a.vault, clock), b: new PgHubSecrets(b.db, b.vault, clock) };
  });

  describe('two replicas racing', () => {
    it('2 pools × 25 concurrent tryLease on one connection: exactly one lease, for alice and bob side by side', async () => {
      const [a, b] = replicas();
      const repos = [new PgConnections(a.db, a.vault, clock), new PgConnections(b.db, b.vault, clock)];
      const users = ['alice', 'bob'];
      const conns = await Promise.all(users.map((user) => repos[0]!.link({ tenant: 'default', user, integration: 'acme', tokens: tokens(1), scopes: [] })));
      const results = await Promise.all(
        conns.flatMap((c) => repos.flatMap((repo, r) => Array.from({ length: 25 }, (_, i) => repo.tryLease(c.id, 1, `${c.user}-r${r}-${i}`, 30_000, alive)))),
      );
      for (const c of conns) {
        const mine = results.filter((x) => x.connection.id === c.id);
        expect(mine).toHaveLength(50);
        const kinds = mine.map((x) => x.kind);
        expect([count(kinds, 'acquired'), count(kinds, 'held')]).toEqual([1, 49]);
        const winner = mine.find((x) => x.kind === 'acquired')!.connection.refreshOwner;
        expect(winner).toMatch(new RegExp(`^${c.user}-r[01]-\\d+$`));
        expect(await repos[1]!.get(c.id)).toMatchObject({ refreshOwner: winner, tokenVersion: 1 });
        // Only the holder commits, whichever replica asks.
        const commits = await Promise.all(repos.map((repo) => repo.commitRefresh(c, winner!, tokens(2))));
        expect(count(commits, true)).toBe(1);
        expect(await repos[0]!.tokens((await repos[0]!.get(c.id))!)).toEqual(tokens(2));
      }
    });

    it("2 pools × 10 concurrent first links of one user's integration: one live connection, every link counted once", async () => {
      const [a, b] = replicas();
      const repos = [new PgConnections(a.db, a.vault, clock), new PgConnections(b.db, b.vault, clock)];
      const calls = ['alice', 'bob'].flatMap((user) =>
        repos.flatMap((repo, r) => Array.from({ length: 10 }, (_, i) => ({ user, repo, set: tokens(r * 100 + i) }))),
      );
      const linked = await Promise.all(
        calls.map(async ({ user, repo, set }) => ({ set, c: await repo.link({ tenant: 'default', user, integration: 'acme', tokens: set, scopes: [] }) })),
      );
      const rows = await pg.store.query('SELECT user_id, state, token_version FROM connections ORDER BY user_id');
      expect(rows).toEqual([
        { user_id: 'alice', state: 'active', token_version: 20 },
        { user_id: 'bob', state: 'active', token_version: 20 },
      ]);
      for (const user of ['alice', 'bob']) {
        const mine = linked.filter(({ c }) => c.user === user);
        expect(new Set(mine.map(({ c }) => c.id)).size).toBe(1);
        // Each link committed its own version: none was lost to a race.
        expect(mine.map(({ c }) => c.tokenVersion).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        // The link that committed last is the token set stored, and either replica opens it.
        const last = mine.find(({ c }) => c.tokenVersion === 20)!;
        expect(await repos[1]!.tokens(last.c)).toEqual(last.set);
        expect(await repos[0]!.tokens(last.c)).toEqual(last.set);
      }
    });

    it('a replica opened before another created the tenant key reads the tokens that key sealed', async () => {
      const [a, b] = replicas();
      await b.vault.open();
      const c = await new PgConnections(a.db, a.vault, clock).link({ tenant: 'acme', user: 'alice', integration: 'gh', tokens: tokens(7), scopes: [] });
      expect(await new PgConnections(b.db, b.vault, clock).tokens(c)).toEqual(tokens(7));
    });

    it('2 pools × 10 concurrent ensureEndpoint: one endpoint per connection', async () => {
      const [a, b] = replicas();
      const repos = [new PgConnections(a.db, a.vault, clock), new PgConnections(b.db, b.vault, clock)];
      const conns = await Promise.all(
        ['alice', 'bob'].map((user) => repos[0]!.link({ tenant: 'default', user, integration: 'acme', tokens: tokens(1), scopes: [] })),
      );
      for (const c of conns) {
        const got = await Promise.all(repos.flatMap((repo) => Array.from({ length: 10 }, () => repo.ensureEndpoint(c.id))));
        expect(new Set(got).size).toBe(1);
        expect(got[0]).toMatch(/^wh_/);
      }
      expect((await repos[1]!.get(conns[0]!.id))!.webhookEndpoint).not.toBe((await repos[1]!.get(conns[1]!.id))!.webhookEndpoint);
    });

    it('2 pools × 10 concurrent creates of a tenant data key: one key per tenant, for two tenants side by side', async () => {
      const stores = [new PgDataKeys(pg.store), new PgDataKeys(second)];
      const made = await Promise.all(
        ['acme', 'beta'].flatMap((tenant) =>
          stores.flatMap((s, r) =>
            Array.from({ length: 10 }, (_, i) =>
              s.create({ id: `dk_${tenant}_${r}_${i}`, tenant, wrapped: Buffer.from([r, i]), masterId: 'mk_1' }, clock.now()),
            ),
          ),
        ),
      );
      const all = await stores[1]!.all();
      expect(all.map((k) => k.tenant)).toEqual(['acme', 'beta']);
      for (const key of all) expect(made.filter((m) => m.tenant === key.tenant)).toEqual(Array.from({ length: 20 }, () => key));
    });

    it('2 pools × 10 concurrent rewraps from one master key: exactly one replaces the wrapping', async () => {
      const stores = [new PgDataKeys(pg.store), new PgDataKeys(second)];
      await stores[0]!.create({ id: 'dk_1', tenant: 'acme', wrapped: Buffer.from('old'), masterId: 'mk_old' }, clock.now());
      const done = await Promise.all(
        stores.flatMap((s, r) =>
          Array.from({ length: 10 }, (_, i) => s.rewrap('dk_1', 'mk_old', { masterId: `mk_${r}_${i}`, wrapped: Buffer.from([r, i]) }, clock.now())),
        ),
      );
      expect(count(done, true)).toBe(1);
      const winner = done.indexOf(true);
      expect(await stores[1]!.all()).toEqual([
        {
          id: 'dk_1',
          tenant: 'acme',
          masterId: `mk_${Math.floor(winner / 10)}_${winner % 10}`,
          wrapped: Buffer.from([Math.floor(winner / 10), winner % 10]),
          state: 'active',
        },
      ]);
    });

    it('2 replicas × 5 instances asking for two hub secrets at once: one value per name, one hub data key', async () => {
      const [a, b] = replicas();
      const instances = [a, b].flatMap((r) => Array.from({ length: 5 }, () => new PgHubSecrets(r.db, r.vault, clock)));
      const names = ['link_signing_key', 'request_state_key'];
      const got = await Promise.all(names.flatMap((name) => instances.map(async (s) => ({ name, value: (await s.secret(name)).toString('hex') }))));
      const values = names.map((name) => new Set(got.filter((g) => g.name === name).map((g) => g.value)));
      expect(values.map((v) => v.size)).toEqual([1, 1]);
      expect([...values[0]!][0]).not.toBe([...values[1]!][0]);
      expect(await pg.store.query('SELECT name FROM hub_secrets ORDER BY name')).toEqual(names.map((name) => ({ name })));
      expect(await pg.store.query('SELECT tenant_id FROM vault_data_keys')).toEqual([{ tenant_id: '_hub' }]);
    });
  });
});
