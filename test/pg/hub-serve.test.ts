import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually, tmpDir } from '../helpers/hub.js';
import { describePg, freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { Browser, followLink } from '../integrations/browser.js';
import { connectMcp, textOf, type Era, type McpUser } from '../integrations/mcp.js';
import { adminUrlOf, readyz, runCommand, serveProcess, setDatabaseReachable, sharedMasterKey, type Serving } from './hub-support.js';

/**
 * `switchboard serve` on PostgreSQL named by DATABASE_URL (issue 13), on a fresh database: the
 * store is migrated at start, /readyz names it, a token the CLI makes in the same database opens
 * /mcp, clients of both protocol eras reach the sandbox as their own user only, and an outage of
 * the database takes the replica out of the balancer (503 with the reason) without stopping it.
 */
const LINK = /http:\/\/127\.0\.0\.1:\d+\/oauth\/sandbox\/start\?link=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
const whoami = z.object({ username: z.string() });

describePg('serve on PostgreSQL from DATABASE_URL', () => {
  let db: FreshDatabase;
  let dir: ReturnType<typeof tmpDir>;
  let env: Record<string, string>;
  let hub: Serving;
  const clients: McpUser[] = [];

  /** Runs a command in the same environment as the hub (DATABASE_URL, the master key) on its own data dir. */
  const cli = (args: string[]) => runCommand([...args, '--data', join(dir.path, 'cli-data')], dir.path, env);

  beforeAll(async () => {
    db = await freshDatabase();
    dir = tmpDir('switchboard-pg-serve-');
    env = { DATABASE_URL: db.url, SWITCHBOARD_MASTER_KEY: sharedMasterKey() };
    // No config file in the cwd: the embedded defaults, which enable the sandbox.
    hub = await serveProcess(['--data', join(dir.path, 'hub-data')], dir.path, env);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await hub?.stop();
    await db?.drop();
    dir?.remove();
  });

  it('migrates the fresh database at start and says on /readyz that it runs on postgres', async () => {
    expect(hub.output()).toMatch(/store opened and migrated/);
    // The password is never printed (the test server's URL has none, so check the URL is named without one).
    expect(hub.output()).not.toMatch(/postgres:\/\/[^@\s]*:[^*@\s][^@\s]*@/);
    const r = await eventually(async () => {
      const got = await readyz(hub.origin);
      return got.body.status === 'ready' ? got : undefined;
    });
    expect(r).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready', store: { kind: 'postgres', ok: true } }) });
  });

  it('opens /mcp with a token the CLI created in the same database; a revoked one is refused', async () => {
    const made = await cli(['tokens', 'create', '--user', 'carol']);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    const mcp = await connectMcp(hub.url, token, { era: 'auto' });
    clients.push(mcp);
    expect((await mcp.tools()).map((t) => t.name)).toContain('sandbox__whoami');

    const listed = await cli(['tokens', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const carol = z
      .array(z.object({ id: z.string(), user: z.string() }))
      .parse(JSON.parse(listed.stdout))
      .find((t) => t.user === 'carol');
    expect(carol).toBeDefined();
    const revoked = await cli(['tokens', 'revoke', carol!.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await fetch(hub.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(refused.status).toBe(401);
  });

  /** A user with a token from the CLI, a client of `era`, and the sandbox account linked through the link its first call returns. */
  async function linkedUser(user: string, era: Era, sandboxName: string): Promise<McpUser> {
    const made = await cli(['tokens', 'create', '--user', user]);
    expect(made.code, made.stderr).toBe(0);
    const mcp = await connectMcp(hub.url, made.stdout.trim(), { era });
    clients.push(mcp);
    const unlinked = await mcp.call('sandbox__whoami');
    expect(unlinked.isError).toBe(true);
    const link = LINK.exec(textOf(unlinked as Parameters<typeof textOf>[0]))?.[0];
    expect(link, JSON.stringify(unlinked.content)).toBeDefined();
    const done = await followLink(new Browser(), link!, sandboxName);
    expect(done.status, done.html).toBe(200);
    return mcp;
  }

  it('serves a 2026 client and a 2025 client, each calling a sandbox tool as its own user and seeing only its own connection', async () => {
    const alice = await linkedUser('alice', 'auto', 'alice-at-sandbox');
    const bob = await linkedUser('bob', 'legacy', 'bob-at-sandbox');
    expect([alice.client.getNegotiatedProtocolVersion(), bob.client.getNegotiatedProtocolVersion()]).toEqual(['2026-07-28', '2025-11-25']);

    const who = async (m: McpUser) => {
      const r = await m.call('sandbox__whoami');
      expect(r.isError ?? false, JSON.stringify(r.content)).toBe(false);
      return whoami.parse(r.structuredContent).username;
    };
    expect(await who(alice)).toBe('alice-at-sandbox');
    expect(await who(bob)).toBe('bob-at-sandbox');

    // The connections are rows in PostgreSQL: the CLI on the same database lists each user's own.
    const listed = async (user: string) => {
      const r = await cli(['connections', 'list', '--user', user, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return z
        .array(z.object({ user: z.string(), integration: z.string(), state: z.string() }))
        .parse(JSON.parse(r.stdout))
        .map(({ user: u, integration, state }) => ({ user: u, integration, state }));
    };
    expect(await listed('alice')).toEqual([{ user: 'alice', integration: 'sandbox', state: 'active' }]);
    expect(await listed('bob')).toEqual([{ user: 'bob', integration: 'sandbox', state: 'active' }]);
  });

  it('answers 503 naming the store while the database is away, stays up, and is ready again once it is back', async () => {
    const admin = adminUrlOf(db.url);
    await setDatabaseReachable(admin, db.name, false);
    try {
      const down = await eventually(async () => {
        const r = await readyz(hub.origin);
        return r.status === 503 ? r : undefined;
      });
      // A loopback caller sees the details, the reason among them: the refusal of new connections,
      // or, when the probe's pooled connection was the one the outage cut, its termination.
      expect(down.body).toMatchObject({
        status: 'degraded',
        store: {
          kind: 'postgres',
          ok: false,
          error: expect.stringMatching(/not currently accepting connections|terminating connection due to administrator command/),
        },
      });
      // Waited for, not slept: the background workers have met the outage (told once, not once a
      // tick) and go on retrying: they say so when the store answers again (below).
      await eventually(() => /the outbox worker could not claim jobs; it tries again/.test(hub.output()), 15_000);
      expect(hub.child.exitCode).toBeNull();
      expect((await fetch(`${hub.origin}/healthz`)).status).toBe(200);
      expect((await readyz(hub.origin)).status).toBe(503);
      // A token that cannot be looked up is not judged invalid (401 would send the client to sign in
      // anew): 503 with Retry-After and the hub's code, as every refusal of /mcp has.
      const unchecked = await fetch(`${hub.origin}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer sbt_${'x'.repeat(43)}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect([unchecked.status, unchecked.headers.get('retry-after')]).toEqual([503, '5']);
      expect(await unchecked.json()).toMatchObject({ error: { code: -32000, data: { code: 'auth_unavailable' } } });
      // The authorization server's endpoints say the same in OAuth's words (RFC 6749 §4.1.2.1), not
      // the library's bare 500 "oops! something went wrong".
      const form = (body: Record<string, string>) => ({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      });
      const token = await fetch(`${hub.origin}/token`, form({ grant_type: 'refresh_token', client_id: 'some-client', refresh_token: 'x'.repeat(43) }));
      const registered = await fetch(`${hub.origin}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/callback'], token_endpoint_auth_method: 'none' }),
      });
      for (const r of [token, registered]) {
        expect([r.status, r.headers.get('retry-after')]).toEqual([503, '5']);
        expect(await r.json()).toEqual({ error: 'temporarily_unavailable', error_description: "the hub's store did not answer; try again shortly" });
      }
    } finally {
      await setDatabaseReachable(admin, db.name, true);
    }
    const back = await eventually(async () => {
      const r = await readyz(hub.origin);
      return r.status === 200 ? r : undefined;
    });
    expect(back.body).toMatchObject({ status: 'ready', store: { kind: 'postgres', ok: true } });
    await eventually(() => /the outbox worker could not claim jobs no longer: it works again/.test(hub.output()), 15_000);
    expect(hub.output().match(/the outbox worker could not claim jobs; it tries again/g)?.length ?? 0).toBeLessThanOrEqual(2);
    // Serving again on new connections: a token made now opens /mcp.
    const made = await cli(['tokens', 'create', '--user', 'erin']);
    expect(made.code, made.stderr).toBe(0);
    const mcp = await connectMcp(hub.url, made.stdout.trim(), { era: 'auto' });
    clients.push(mcp);
    expect((await mcp.tools()).map((t) => t.name)).toContain('sandbox__whoami');
  });
});
