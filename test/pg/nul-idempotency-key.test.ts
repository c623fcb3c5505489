import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { Browser, followLink } from '../integrations/browser.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { modernEnvelope, rawModernCall } from '../helpers/raw-mcp.js';
import { runCommand, serveProcess, sharedMasterKey, type Serving } from './hub-support.js';

/**
 * A write whose caller's idempotency key (`_meta["switchboard/idempotency-key"]`) holds a NUL
 * character, on a PostgreSQL store, whose text cannot hold one. The call failed with a retryable
 * store_failed ("invalid byte sequence for encoding UTF8: 0x00"), so a client retried the same
 * call for ever, and each try was logged as a database error. Now it is refused at once, not
 * retryable, saying what is wrong with the key; nothing is queued.
 */
describePg('an idempotency key holding a NUL character on PostgreSQL', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let env: Record<string, string>;
  let hub: Serving;
  let token: string;
  const cli = (args: string[]) => runCommand([...args, '--data', join(dir.path, 'cli-data')], dir.path, env);

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-nul-key-');
    env = { DATABASE_URL: db.url, SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
    // The embedded defaults: the sandbox, whose create_ticket is a queued write.
    hub = await serveProcess(['--data', join(dir.path, 'hub-data')], dir.path, env);
    const made = await cli(['tokens', 'create', '--user', 'alice']);
    expect(made.code, made.stderr).toBe(0);
    token = made.stdout.trim();
    // Her sandbox account linked through the link her first call answers with.
    const first = await rawModernCall(hub.url, token, { name: 'sandbox__whoami' });
    const link = /http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=[A-Za-z0-9_.-]+/.exec(JSON.stringify(first))?.[0];
    expect(link, JSON.stringify(first)).toBeDefined();
    expect((await followLink(new Browser(), link!, 'alice-at-sandbox')).status).toBe(200);
  });

  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    dir?.remove();
  });

  it('is refused at once, not retryable, naming the key; nothing is queued', async () => {
    const r = await rawModernCall(hub.url, token, {
      name: 'sandbox__create_ticket',
      arguments: { title: 'keyed' },
      _meta: { ...modernEnvelope(), 'switchboard/idempotency-key': 'order-\u00001' },
    });
    const said = JSON.stringify(r);
    expect(said).not.toMatch(/store_failed|invalid byte sequence/);
    expect(said).toMatch(/idempotency key/);
    expect(said).toMatch(/NUL/);
    if (r.result) expect(r.result._meta).toMatchObject({ 'switchboard/error': { retryable: false } });
    const listed = await cli(['queue', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    expect(hub.output()).not.toMatch(/invalid byte sequence/);
  });
});
