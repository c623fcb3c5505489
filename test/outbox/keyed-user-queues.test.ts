/**
 * Writes made with an integration's key from config (no linked accounts) are queued per user, as a
 * linked account's are: one user's stuck ordered write or burst holds no other user's writes. The
 * key's pacing stays one, since the provider counts the key. Through real MCP clients of two users,
 * a hub on a SQLite file and an API on loopback that holds a write until the test lets it go.
 */
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { SqliteOutbox } from '../../src/outbox/sqlite.js';
import { migrate, openDb } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { bearerClient } from '../helpers/clients.js';
import { eventually, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

const text = { type: 'string' };

describe('writes with a key from config, two users', () => {
  let api: LocalApi;
  let hub: RunningHub;
  let bobToken: string;
  /** Texts the API received, in arrival order. */
  const arrived: string[] = [];
  /** Answers the API holds back: a write whose text starts with "hold" waits here. */
  const held: Array<() => void> = [];

  beforeAll(async () => {
    api = await localApi((_req, body, res: ServerResponse) => {
      const t = (JSON.parse(body) as { text: string }).text;
      arrived.push(t);
      const answer = () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ logged: t }));
      if (t.startsWith('hold')) held.push(answer);
      else answer();
    });
    const notes = {
      type: 'custom',
      title: 'Notes',
      apiBaseUrl: api.origin,
      auth: { type: 'apiKey', header: 'x-api-key', value: 'k-notes' },
      idempotencyHeader: 'Idempotency-Key',
      tools: {
        log: { description: 'Appends to the log', method: 'POST', path: '/log', ordering: 'connection', input: { type: 'object', properties: { text } } },
        post: {
          description: 'Posts to a channel',
          method: 'POST',
          path: '/channels/{channel}',
          ordering: { key: 'channel' },
          input: { type: 'object', properties: { channel: text, text }, required: ['channel', 'text'] },
        },
      },
    };
    hub = await startHub({ integrations: { notes }, outbox: { waitMs: 30_000 } });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });

  afterAll(async () => {
    for (const answer of held.splice(0)) answer();
    await hub?.stop();
    await api?.close();
  });

  it.each([
    { tool: 'log', args: {} },
    { tool: 'post', args: { channel: 'general' } },
  ])("bob's $tool write is sent while alice's of the same order waits for its answer", async ({ tool, args }) => {
    const [alice, bob] = await Promise.all([bearerClient(hub.url, hub.token, 'alice'), bearerClient(hub.url, bobToken, 'bob')]);
    try {
      const first = alice.callTool({ name: `notes__${tool}`, arguments: { ...args, text: `hold-${tool}` } });
      await eventually(() => held.length === 1 || undefined);
      // Alice's next write of that order waits behind her first, as ordering promises.
      const second = alice.callTool({ name: `notes__${tool}`, arguments: { ...args, text: `a2-${tool}` } });
      const b = await bob.callTool({ name: `notes__${tool}`, arguments: { ...args, text: `b1-${tool}` } });
      expect(b.isError).toBeFalsy();
      expect(b.structuredContent).toEqual({ logged: `b1-${tool}` });
      expect(arrived.filter((t) => t.endsWith(`-${tool}`))).toEqual([`hold-${tool}`, `b1-${tool}`]);
      held.shift()!();
      for (const r of await Promise.all([first, second])) expect(r.isError).toBeFalsy();
      expect(arrived.filter((t) => t.endsWith(`-${tool}`))).toEqual([`hold-${tool}`, `b1-${tool}`, `a2-${tool}`]);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });

  it("each user's jobs are in a queue of their own", () => {
    const db = new Database(join(hub.dataDir, 'switchboard.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT DISTINCT user_id, connection_id FROM outbox_jobs WHERE integration = 'notes' ORDER BY user_id").all();
      expect(rows).toEqual([
        { user_id: 'alice', connection_id: 'app:default/alice' },
        { user_id: 'bob', connection_id: 'app:default/bob' },
      ]);
    } finally {
      db.close();
    }
  });
});

it("an upgrade moves unfinished jobs queued under the shared 'app' queue to their user's", async () => {
  const dir = tmpDir();
  const clock = manualClock();
  const file = join(dir.path, 'switchboard.db');
  try {
    const old = openDb({ file, clock, migrations: MIGRATIONS.filter((m) => m.version < 24) });
    // Written as that version's hub wrote them: today's outbox reads columns later migrations add.
    const job = (id: string, user: string, state: string) =>
      old
        .prepare(
          `INSERT INTO outbox_jobs (id, tenant_id, user_id, connection_id, integration, tool, idempotency_key, key_from_caller, args_hash, args,
             sensitive, replay_safe, ordering_key, state, next_attempt_at, created_at, updated_at)
           VALUES (?, 'default', ?, 'app', 'notes', 'log', ?, 0, 'h', '{}', 0, 0, 'notes:connection', ?, 1, 1, 1)`,
        )
        .run(id, user, `key-${id}`, state);
    job('job_a', 'alice', 'queued');
    job('job_b', 'bob', 'queued');
    job('job_done', 'alice', 'done');
    expect(migrate(old, clock).map((m) => m.name)).toContain('outbox_app_queues');
    const queueOf = (id: string) => old.prepare('SELECT connection_id FROM outbox_jobs WHERE id = ?').pluck().get(id);
    expect([queueOf('job_a'), queueOf('job_b'), queueOf('job_done')]).toEqual(['app:default/alice', 'app:default/bob', 'app']);
    // The jobs read as today's outbox reads them, in their user's queue.
    expect((await new SqliteOutbox(old, clock).find('job_a'))?.connectionId).toBe('app:default/alice');
    old.close();
  } finally {
    dir.remove();
  }
});
