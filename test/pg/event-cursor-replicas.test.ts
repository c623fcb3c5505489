import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { PgConnections } from '../../src/connections/pg.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pool.js';
import { loadMasterKeys } from '../../src/vault/master-keys.js';
import { PgDataKeys } from '../../src/vault/pg-data-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { PgInbox } from '../../src/webhooks/inbox/pg.js';
import { argumentRefusal } from '../helpers/clients.js';
import { tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { EVENTS_ACME, linkReaders } from '../integrations/events-acme.js';
import { runCommand, serveProcess, sharedMasterKey, type Serving } from './hub-support.js';

/**
 * recent_events cursors on PostgreSQL, between two `serve` replicas: sealed with the key they keep
 * in the database, so a cursor one replica handed out reads on at the other, for its owner only.
 * The raw cursor was seq, which counts every user's events in the shared inbox.
 */
const SEALED = /^c1\.[A-Za-z0-9_-]{22}$/;
const REFUSED = /^after: not a cursor from recent_events/;
type Page = { events: Array<{ id: string; payload: { owner: string } }>; next_cursor: string };

describePg('recent_events cursors across two replicas on one PostgreSQL database', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let pool: PgStore;
  let inbox: PgInbox;
  const replicas: Serving[] = [];
  const tokens: Record<string, string> = {};
  const clients: Client[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-cursors-');
    const config = join(dir.path, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { url: db.url }, integrations: { acme: EVENTS_ACME } }));
    const env = { SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
    for (const name of ['a', 'b']) replicas.push(await serveProcess(['--config', config, '--data', join(dir.path, name)], dir.path, env));
    for (const user of ['alice', 'bob']) {
      const made = await runCommand(['tokens', 'create', '--user', user, '--config', config, '--data', join(dir.path, 'cli')], dir.path, env);
      expect(made.code, made.stderr).toBe(0);
      tokens[user] = made.stdout.trim();
    }
    pool = openPgStore({ url: db.url });
    // Both have linked acme (recent_events offers one who never did the link instead), sealed with the replicas' master key.
    const ring = loadMasterKeys({ env, dataDir: dir.path, mayGenerate: false });
    const connections = new PgConnections(pool, new Vault({ keys: new PgDataKeys(pool), ring, clock: systemClock }), systemClock);
    await linkReaders({ integrations: { connections } }, ['alice', 'bob']);
    // The replicas' retention purge reads their own clocks: events stamped by another would be purged.
    inbox = new PgInbox(pool, systemClock);
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    await Promise.all(replicas.map((r) => r.stop()));
    await pool?.close();
    await db?.drop();
    dir?.remove();
  });

  async function at(replica: number, user: string): Promise<Client> {
    const client = new Client({ name: `cursor-${user}`, version: '1.0.0' });
    const auth = { authorization: `Bearer ${tokens[user]}` };
    await client.connect(new StreamableHTTPClientTransport(new URL(replicas[replica]!.url), { requestInit: { headers: auth } }));
    clients.push(client);
    return client;
  }
  async function recent(c: Client, args: Record<string, unknown> = {}): Promise<Page> {
    const r = await c.callTool({ name: 'acme__recent_events', arguments: args });
    expect(r.isError ?? false).toBe(false);
    return r.structuredContent as Page;
  }
  /** One character of the sealed block changed. */
  const altered = (c: string) => `${c.slice(0, 10)}${c[10] === 'A' ? 'B' : 'A'}${c.slice(11)}`;
  let n = 0;
  const arrive = async (user: string) =>
    (
      await inbox.accept({
        integration: 'acme',
        deliveryId: `msg_${++n}`,
        connection: { id: `conn-${user}`, tenant: 'default', user },
        type: 'ticket.updated',
        payload: JSON.stringify({ owner: user }),
      })
    ).eventId;

  it("a cursor from one replica reads on at the other, each of alice's events once amid bob's; bob's use of it is refused", async () => {
    const [aliceA, aliceB, bobB] = [await at(0, 'alice'), await at(1, 'alice'), await at(1, 'bob')];
    const start = await recent(aliceA);
    expect(start).toEqual({ events: [], next_cursor: expect.stringMatching(SEALED) });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await arrive('alice'));
      await arrive('bob');
      await arrive('bob');
    }
    const seen: string[] = [];
    let cursor = start.next_cursor;
    for (let page = 0; page < 6; page++) {
      const got = await recent(page % 2 === 0 ? aliceB : aliceA, { after: cursor, limit: 2 });
      expect(got.next_cursor).toMatch(SEALED);
      if (got.events.length === 0) {
        expect(got.next_cursor).toBe(cursor);
        break;
      }
      seen.push(...got.events.map((e) => e.id));
      cursor = got.next_cursor;
    }
    expect(seen).toEqual(ids);
    expect(argumentRefusal(await bobB.callTool({ name: 'acme__recent_events', arguments: { after: cursor } }))).toMatch(REFUSED);
    expect(argumentRefusal(await aliceB.callTool({ name: 'acme__recent_events', arguments: { after: altered(cursor) } }))).toMatch(REFUSED);
    // A raw cursor (the format handed out before they were sealed) is refused: it would probe positions in everyone's order.
    expect(argumentRefusal(await aliceB.callTool({ name: 'acme__recent_events', arguments: { after: 'e0' } }))).toMatch(REFUSED);
  });
});
