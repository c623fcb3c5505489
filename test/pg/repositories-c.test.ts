/**
 * The identity, OAuth and task repositories on PostgreSQL: the contracts the SQLite classes keep
 * (test/store/contracts), with "another process" played by a second pool on the same database, as
 * another replica; then what a contract on one SQLite file cannot show — two pools racing on the
 * operation that must happen once, with two identities side by side.
 */
import { describe, expect, it } from 'vitest';
import { PgAgentTasks } from '../../src/agents/tasks/pg.js';
import { newTaskId, type TaskOutcome } from '../../src/agents/tasks/types.js';
import { PgAsRecords } from '../../src/auth/pg.js';
import { manualClock } from '../../src/clock.js';
import { PgApiTokens } from '../../src/identity/pg.js';
import { PgTasks } from '../../src/mcp/tasks/pg.js';
import type { TaskRecord } from '../../src/mcp/tasks/types.js';
import type { LinkPayload } from '../../src/oauth/links.js';
import { PgFlows, PgLinkUses } from '../../src/oauth/pg.js';
import { PgPollerStore } from '../../src/polling/pg.js';
import type { PollerKey } from '../../src/polling/store.js';
import type { CachedLists } from '../../src/store/list-cache.js';
import { PgListCache } from '../../src/store/pg/list-cache.js';
import type { PgStore } from '../../src/store/pg/pool.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { PgDataKeys } from '../../src/vault/pg-data-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { describePg, type MigratedDatabase, migratedWithReplica } from '../helpers/postgres.js';
import { agentTasksContract } from '../store/contracts/agent-tasks.js';
import { apiTokensContract } from '../store/contracts/api-tokens.js';
import { flowRepositoryContract } from '../store/contracts/flows.js';
import { linkUsesContract } from '../store/contracts/link-uses.js';
import { listCacheContract } from '../store/contracts/list-cache.js';
import { mcpTasksContract } from '../store/contracts/mcp-tasks.js';
import { asRecordsContract } from '../store/contracts/oauth-as.js';
import { pollerStoreContract } from '../store/contracts/pollers.js';

let pg: MigratedDatabase;
/** A second pool on the same database: the other replica. */
let replica: PgStore;

/** An empty database and a clock of the test's own. */
async function fresh() {
  await pg.reset();
  return manualClock();
}

/**
 * Two vaults, one per replica, each reading the data keys through its own pool and sharing the
 * master key: a result sealed on one replica with a key it created opens on the other.
 */
function vaults(clock: ReturnType<typeof manualClock>) {
  const ring = ephemeralRing();
  return [new Vault({ keys: new PgDataKeys(pg.store), ring, clock }), new Vault({ keys: new PgDataKeys(replica), ring, clock })] as const;
}

/** `n` calls at once, half through each replica; resolves every outcome in call order. */
function race<T>(n: number, call: (i: number, side: 'a' | 'b') => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => call(i, i % 2 === 0 ? 'a' : 'b')));
}

const count = <T>(xs: readonly T[], x: T) => xs.filter((y) => y === x).length;

describePg('PostgreSQL repositories: tokens, OAuth, tasks, pollers, list cache', () => {
  migratedWithReplica((p, r) => {
    pg = p;
    replica = r;
  });

  apiTokensContract('PostgreSQL', async () => {
    const clock = await fresh();
    return { tokens: new PgApiTokens(pg.store, clock), other: new PgApiTokens(replica, clock), advance: (ms) => clock.advance(ms), now: () => clock.now() };
  });

  flowRepositoryContract('PostgreSQL', async () => {
    const clock = await fresh();
    return { flows: new PgFlows(pg.store), other: new PgFlows(replica), now: () => clock.now() };
  });

  linkUsesContract('PostgreSQL', async () => {
    const clock = await fresh();
    // Claims on one replica, sessions on the other: both read the same rows.
    return { uses: new PgLinkUses(pg.store, clock), sessions: new PgLinkUses(replica, clock), advance: (ms) => clock.advance(ms), now: () => clock.now() };
  });

  asRecordsContract('PostgreSQL', async () => {
    const clock = await fresh();
    return { records: new PgAsRecords(pg.store), other: new PgAsRecords(replica), now: () => clock.now() };
  });

  agentTasksContract('PostgreSQL', async () => {
    const clock = await fresh();
    const [a, b] = vaults(clock);
    return {
      tasks: new PgAgentTasks(pg.store, a, clock),
      other: new PgAgentTasks(replica, b, clock),
      advance: (ms) => clock.advance(ms),
      now: () => clock.now(),
      storedResult: (id) => pg.store.one('SELECT result FROM agent_tasks WHERE id = $1', [id], (r) => r.result as string | null),
    };
  });

  mcpTasksContract('PostgreSQL', async () => {
    const clock = await fresh();
    return { repo: new PgTasks(pg.store), other: new PgTasks(replica), now: () => clock.now() };
  });

  pollerStoreContract('PostgreSQL', async () => {
    const clock = await fresh();
    return {
      store: new PgPollerStore(pg.store, clock),
      other: new PgPollerStore(replica, clock),
      advance: (ms) => clock.advance(ms),
      now: () => clock.now(),
      connection: async (id, state) => {
        await pg.store.exec(
          "INSERT INTO connections (id, tenant_id, user_id, integration, state, created_at, updated_at) VALUES ($1, 'default', $1, 'acme', $2, 0, 0)",
          [id, state],
        );
      },
    };
  });

  listCacheContract('PostgreSQL', async () => {
    const clock = await fresh();
    return {
      cache: new PgListCache(pg.store, clock),
      other: new PgListCache(replica, clock),
      writeRaw: async (server, hash, lists) => {
        await pg.store.exec('INSERT INTO downstream_lists (server, config_hash, lists, updated_at) VALUES ($1, $2, $3, 0)', [server, hash, lists]);
      },
      rows: (server) => pg.store.one('SELECT count(*) AS n FROM downstream_lists WHERE server = $1', [server], (r) => Number(r.n)),
    };
  });

  describe('two replicas racing on what must happen once', () => {
    it('API tokens: 2 pools × 25 revokes of each of two tenants’ tokens revoke each once and tell one listener once', async () => {
      const clock = await fresh();
      const a = new PgApiTokens(pg.store, clock);
      const b = new PgApiTokens(replica, clock);
      const told: string[] = [];
      a.onRevoked((id) => told.push(`a:${id}`));
      b.onRevoked((id) => told.push(`b:${id}`));
      const alice = await a.create({ user: 'alice', tenant: 't1' });
      const bob = await b.create({ user: 'bob', tenant: 't2' });
      clock.advance(1000);
      const [forAlice, forBob] = await Promise.all([alice, bob].map((t) => race(50, (_, side) => (side === 'a' ? a : b).revoke(t.record.id))));
      expect(count(forAlice!, true)).toBe(1);
      expect(count(forBob!, true)).toBe(1);
      expect(told.map((s) => s.slice(2)).sort()).toEqual([alice.record.id, bob.record.id].sort());
      expect(await a.revokedAmong([alice.record.id, bob.record.id])).toHaveLength(2);
      expect(await b.check(alice.token)).toBeUndefined();
    });

    it('API tokens: 2 pools × 25 checks a minute on write last use once, each token its own', async () => {
      const clock = await fresh();
      const a = new PgApiTokens(pg.store, clock);
      const b = new PgApiTokens(replica, clock);
      const alice = await a.create({ user: 'alice', tenant: 't1' });
      const bob = await a.create({ user: 'bob', tenant: 't2' });
      // Counts every UPDATE of a row, in the test database only: the writes themselves are the point.
      await pg.store.exec(`CREATE TABLE token_writes (id TEXT NOT NULL);
        CREATE FUNCTION log_token_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO token_writes VALUES (NEW.id); RETURN NEW; END $$;
        CREATE TRIGGER token_writes AFTER UPDATE ON api_tokens FOR EACH ROW EXECUTE FUNCTION log_token_write();`);
      try {
        const writes = async () => pg.store.query('SELECT id, count(*) AS n FROM token_writes GROUP BY id ORDER BY id', []);
        const expected = [alice.record.id, bob.record.id].sort().map((id) => ({ id, n: 1 }));
        clock.advance(120_000);
        const got = await race(50, (i, side) => (side === 'a' ? a : b).check(i < 25 ? alice.token : bob.token));
        expect(got.slice(0, 25).every((g) => g !== 'expired' && g?.user === 'alice' && g.tenant === 't1')).toBe(true);
        expect(got.slice(25).every((g) => g !== 'expired' && g?.user === 'bob' && g.tenant === 't2')).toBe(true);
        expect(await writes()).toEqual(expected);
        expect((await a.get(alice.record.id))?.lastUsedAt).toBe(clock.now());
        expect((await b.get(bob.record.id))?.lastUsedAt).toBe(clock.now());
        // Later in the same minute: no write at all.
        clock.advance(30_000);
        await race(20, (_, side) => (side === 'a' ? a : b).check(alice.token));
        expect(await writes()).toEqual(expected);
      } finally {
        await pg.store.exec('DROP TRIGGER token_writes ON api_tokens; DROP FUNCTION log_token_write(); DROP TABLE token_writes');
      }
    });

    it('OAuth flows: 2 pools × 25 callbacks spend each of two users’ flows once, at the winner’s time', async () => {
      const clock = await fresh();
      const a = new PgFlows(pg.store);
      const b = new PgFlows(replica);
      const t = clock.now();
      for (const [state, user, tenant] of [
        ['sa', 'alice', 't1'],
        ['sb', 'bob', 't2'],
      ] as const) {
        await a.create({
          stateHash: state,
          tenant,
          user,
          integration: 'acme',
          sealedVerifier: 'sbv1.x',
          browserHash: `b-${user}`,
          redirectUri: 'http://127.0.0.1/cb',
          createdAt: t,
          expiresAt: t + 600_000,
        });
      }
      for (const state of ['sa', 'sb']) {
        const got = await race(50, (i, side) => (side === 'a' ? a : b).spend(state, t + 1 + i));
        expect(count(got, true)).toBe(1);
        expect((await a.find(state))?.usedAt).toBe(t + 1 + got.indexOf(true));
      }
      expect(await b.lastCompleted('t1', 'alice', 'acme')).toBeDefined();
      expect(await b.lastCompleted('t1', 'bob', 'acme')).toBeUndefined();
    });

    it('links: 50 browsers on 2 pools open each of two users’ links, one claims each; 50 confirmations spend it once', async () => {
      const clock = await fresh();
      const a = new PgLinkUses(pg.store, clock);
      const b = new PgLinkUses(replica, clock);
      const links: LinkPayload[] = ['alice', 'bob'].map((u, i) => ({ v: 1, p: 'link', t: `t${i + 1}`, u, i: 'acme', exp: clock.now() + 60_000, n: `n-${u}` }));
      for (const link of links) {
        const claims = await race(50, (i, side) => (side === 'a' ? a : b).claim(link, `browser-${i}`));
        expect(count(claims, 'ok')).toBe(1);
        expect(count(claims, 'other_browser')).toBe(49);
        const winner = `browser-${claims.indexOf('ok')}`;
        const spends = await race(50, (_, side) => (side === 'a' ? a : b).spend(link, winner));
        expect(count(spends, 'ok')).toBe(1);
        expect(count(spends, 'used')).toBe(49);
      }
    });

    it('AS records: 2 pools × 25 presentations of each of two grants’ refresh tokens consume each once', async () => {
      const clock = await fresh();
      const a = new PgAsRecords(pg.store);
      const b = new PgAsRecords(replica);
      for (const g of ['g1', 'g2']) await a.upsert({ model: 'RefreshToken', key: `r-${g}`, payload: 'sealed', grantId: g });
      const t = clock.now();
      for (const g of ['g1', 'g2']) {
        const got = await race(50, (i, side) => (side === 'a' ? a : b).consume('RefreshToken', `r-${g}`, t + i));
        expect(count(got, true)).toBe(1);
        expect(await b.find('RefreshToken', `r-${g}`)).toMatchObject({ grantId: g, consumedAt: t + got.indexOf(true) });
      }
    });

    it('agent tasks: 2 pools × 25 callbacks finish each of two tenants’ tasks once, the winner’s outcome kept', async () => {
      const clock = await fresh();
      const [va, vb] = vaults(clock);
      const a = new PgAgentTasks(pg.store, va, clock);
      const b = new PgAgentTasks(replica, vb, clock);
      const owners = [
        { tenant: 't1', user: 'alice' },
        { tenant: 't2', user: 'bob' },
      ];
      for (const owner of owners) {
        const task = await a.create({ id: newTaskId(), owner, agent: 'triage', ownerProcess: 'p1', expiresAt: clock.now() + 60_000 });
        const outcome = (i: number): TaskOutcome => (i % 3 === 0 ? { state: 'completed', result: { n: i } } : { state: 'failed', error: `failure ${i}` });
        const got = await race(50, (i, side) => (side === 'a' ? a : b).finish(task.id, outcome(i)));
        expect(count(got, true)).toBe(1);
        const won = outcome(got.indexOf(true));
        const stored = await b.get(task.id, owner);
        expect(stored?.state).toBe(won.state);
        if (won.state === 'completed') expect(stored?.result).toEqual(won.result);
        else expect(stored?.error).toBe(won.error);
      }
    });

    it('agent tasks: sweeps on 2 pools end 20 expired tasks of two tenants once between them, and leave the live ones', async () => {
      const clock = await fresh();
      const [va, vb] = vaults(clock);
      const a = new PgAgentTasks(pg.store, va, clock);
      const b = new PgAgentTasks(replica, vb, clock);
      const expiring: string[] = [];
      for (let i = 0; i < 24; i++) {
        const owner = i % 2 === 0 ? { tenant: 't1', user: 'alice' } : { tenant: 't2', user: 'bob' };
        const t = await a.create({ id: newTaskId(), owner, agent: 'triage', ownerProcess: 'p1', expiresAt: clock.now() + (i < 20 ? 1000 : 60_000) });
        if (i < 20) expiring.push(t.id);
      }
      clock.advance(1000);
      const swept = (await race(10, (_, side) => (side === 'a' ? a : b).expire(clock.now(), 3))).flat().map((t) => t.id);
      // 10 sweeps of up to 3 each may leave some for the next round; none is ended twice.
      expect(new Set(swept).size).toBe(swept.length);
      const rest = [...(await a.expire(clock.now(), 100)), ...(await b.expire(clock.now(), 100))].map((t) => t.id);
      expect([...swept, ...rest].sort()).toEqual([...expiring].sort());
      const states = await pg.store.query('SELECT state, count(*) AS n FROM agent_tasks GROUP BY state ORDER BY state', []);
      expect(states).toEqual([
        { state: 'submitted', n: 4 },
        { state: 'timed_out', n: 20 },
      ]);
    });

    it('MCP tasks: 2 pools × 25 completions and cancels move each of two owners’ tasks once', async () => {
      const clock = await fresh();
      const a = new PgTasks(pg.store);
      const b = new PgTasks(replica);
      const now = clock.now();
      const owners = [
        { tenant: 't1', user: 'alice' },
        { tenant: 't2', user: 'bob' },
      ];
      for (const [n, owner] of owners.entries()) {
        const r: TaskRecord = {
          id: `task-${n}`,
          owner,
          backing: { kind: 'local', id: 'p1' },
          tool: 'slow',
          status: 'working',
          ttlMs: 60_000,
          expiresAt: now + 60_000,
          createdAt: now,
          updatedAt: now,
        };
        await a.create(r);
        const got = await race(50, (i, side) =>
          (side === 'a' ? a : b).update(r.id, i % 2 === 0 ? { status: 'completed', result: { i } } : { status: 'cancelled' }, now + 1 + i),
        );
        expect(count(got, true)).toBe(1);
        const w = got.indexOf(true);
        expect(await b.get(r.id, owner, now + 1)).toMatchObject(
          w % 2 === 0 ? { status: 'completed', result: { i: w }, updatedAt: now + 1 + w } : { status: 'cancelled', updatedAt: now + 1 + w },
        );
      }
    });
    it('pollers: 2 pools × 10 claims on each of 10 feeds of two connections lease each feed once; a stale owner records nothing', async () => {
      const clock = await fresh();
      const a = new PgPollerStore(pg.store, clock);
      const b = new PgPollerStore(replica, clock);
      const keys: PollerKey[] = [];
      for (const conn of ['conn-alice', 'conn-bob']) for (let f = 0; f < 5; f++) keys.push({ connectionId: conn, feed: `feed-${f}` });
      // Replicas seeing the same feed at start-up make one row between them.
      await Promise.all(keys.flatMap((k) => [a.ensure(k, 'github'), b.ensure(k, 'github')]));
      expect(await a.due(100)).toHaveLength(10);
      const claims = await race(200, (i, side) => (side === 'a' ? a : b).claim(keys[i % 10]!, `owner-${i}`, 30_000));
      const won = claims.flatMap((r, i) =>
        r === undefined ? [] : [{ key: `${keys[i % 10]!.connectionId}/${keys[i % 10]!.feed}`, owner: `owner-${i}`, row: r }],
      );
      expect(won.map((w) => w.key).sort()).toEqual(keys.map((k) => `${k.connectionId}/${k.feed}`).sort());
      for (const w of won) expect(w.row.leaseOwner).toBe(w.owner);
      expect(await b.due(100)).toEqual([]);
      // The lease runs out; another replica takes the feed over, and the first owner's late finish is refused.
      clock.advance(30_000);
      const first = won[0]!;
      const [conn, feed] = first.key.split('/') as [string, string];
      expect(await b.claim({ connectionId: conn, feed }, 'owner-late', 30_000)).toBeDefined();
      const outcomes = await Promise.all([
        a.finish({ connectionId: conn, feed }, first.owner, {
          intervalMs: 1,
          nextRunAt: 0,
          emptyPolls: 0,
          failures: 0,
          stuckPages: 0,
          state: 'active',
          reason: null,
          pausedUntil: null,
          lastError: null,
          stored: 5,
        }),
        b.finish({ connectionId: conn, feed }, 'owner-late', {
          intervalMs: 2,
          nextRunAt: 0,
          emptyPolls: 0,
          failures: 0,
          stuckPages: 0,
          state: 'active',
          reason: null,
          pausedUntil: null,
          lastError: null,
          stored: 7,
        }),
      ]);
      expect(outcomes).toEqual([false, true]);
      expect(await a.get({ connectionId: conn, feed })).toMatchObject({ intervalMs: 2, eventsTotal: 7, leaseOwner: null });
    });

    it('list cache: 2 pools × 10 puts of two configs for each of two servers leave one row per server, one config’s whole lists', async () => {
      const clock = await fresh();
      const a = new PgListCache(pg.store, clock);
      const b = new PgListCache(replica, clock);
      const lists = (tool: string): CachedLists => ({
        tools: [{ name: tool, inputSchema: { type: 'object' } }],
        resources: [],
        resourceTemplates: [],
        prompts: [],
      });
      await race(40, (i, side) => (side === 'a' ? a : b).put(i < 20 ? 'files' : 'mail', `h${i % 4 < 2 ? 1 : 2}`, lists(`tool-h${i % 4 < 2 ? 1 : 2}`)));
      const rows = await pg.store.query('SELECT server, config_hash FROM downstream_lists ORDER BY server', []);
      expect(rows.map((r) => r.server)).toEqual(['files', 'mail']);
      for (const r of rows) expect(await b.get(String(r.server), String(r.config_hash))).toEqual(lists(`tool-${String(r.config_hash)}`));
    });
  });
});
