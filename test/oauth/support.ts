/**
 * What the OAuth acceptance tests share: a hub config that uses the test authorization server,
 * linking through a browser, reading links out of tool results, and spawned hub processes.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Clock } from '../../src/clock.js';
import type { Browser } from '../fakes/browser.js';
import { startOidcServer, type OidcServer } from '../fakes/oidc.js';
import { connectClient, textOf, type CallResult, type FaceClient } from '../helpers/clients.js';
import { runCli, startHub, type RunningHub } from '../helpers/hub.js';
import { serveProcess } from '../helpers/serve-process.js';

export const TOOL = 'acme__list_things';

export function callbackOf(port: number): string {
  return `http://127.0.0.1:${port}/oauth/callback`;
}

/**
 * An in-process hub configured with the authorization server, on the port the OS picks; its
 * callback is registered at the server once the hub listens, before any link is opened.
 */
export async function startOidcHub(oidc: OidcServer, extra: Record<string, unknown> = {}, opts: Parameters<typeof startHub>[1] = {}): Promise<RunningHub> {
  const hub = await startHub(hubConfig(oidc, extra), opts);
  await oidc.allowRedirectUri(callbackOf(hub.port));
  return hub;
}

export function hubConfig(oidc: OidcServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { integrations: { acme: oidc.integration() }, ...extra };
}

/** The link a tool result hands the user. */
export function linkIn(result: CallResult): string {
  const url = /(http:\/\/\S+\/oauth\/acme\/start\?link=[A-Za-z0-9_.-]+)/.exec(textOf(result))?.[1];
  if (url === undefined) throw new Error(`no link in ${JSON.stringify(result.content)}`);
  return url;
}

/** Links an account the way a user does: open the link, confirm, sign in, approve, land on the hub's page. */
export async function linkWithBrowser(browser: Browser, link: string, login: string): Promise<void> {
  const callback = await browser.authorize(link, { login });
  const page = await browser.get(callback);
  const html = await page.text();
  expect(page.status, html).toBe(200);
  expect(html).toContain('Acme is linked');
}

export interface ConnectionRow {
  id: string;
  user_id: string;
  state: string;
  reason: string | null;
  tokens: string | null;
  token_version: number;
  access_expires_at: number | null;
  refresh_owner: string | null;
  refresh_started_at: number | null;
}

/** Reads the hub's database from outside, as another process would. */
export function openHubDb(dataDir: string): Database.Database {
  const db = new Database(join(dataDir, 'switchboard.db'));
  db.pragma('busy_timeout = 5000');
  return db;
}

export function connectionRows(db: Database.Database): ConnectionRow[] {
  return db.prepare('SELECT * FROM connections ORDER BY id').all() as ConnectionRow[];
}

/** Makes the hub see the access token as expired (the provider still accepts it). */
export function expireAccessToken(db: Database.Database, id: string): void {
  expect(db.prepare('UPDATE connections SET access_expires_at = 1 WHERE id = ?').run(id).changes).toBe(1);
}

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'switchboard.config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export { runCli } from '../helpers/hub.js';

/** Creates a hub API token for a user in the data dir, with the CLI. */
export async function createToken(configFile: string, dataDir: string, user: string, tenant?: string): Promise<string> {
  const r = await runCli(['tokens', 'create', '--user', user, ...(tenant ? ['--tenant', tenant] : []), '--config', configFile, '--data', dataDir], dataDir);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/**
 * `switchboard serve` on the port the OS picks; resolves once it says where it is serving. With
 * `oidc`, the hub's callback is registered there before anything links.
 */
export async function serve(configFile: string, dataDir: string, oidc?: OidcServer): Promise<ServeProcess> {
  const { child, url, port, output, exited } = await serveProcess(configFile, dataDir, 0);
  await oidc?.allowRedirectUri(callbackOf(port));
  return {
    child,
    port,
    url,
    output,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export interface OidcHub {
  oidc: OidcServer;
  hub: RunningHub;
  client: FaceClient;
}

/**
 * An oidc-provider, an in-process hub configured with it, and a 2026-era client, set up around
 * the enclosing describe block. Read the fields inside tests (they are filled by beforeAll).
 */
export function useOidcHub(opts: { clock?: Clock } = {}): OidcHub {
  const ctx = {} as OidcHub;
  beforeAll(async () => {
    ctx.oidc = await startOidcServer();
    ctx.hub = await startOidcHub(ctx.oidc, {}, opts.clock ? { clock: opts.clock } : {});
    ctx.client = await connectClient('v2-auto', { transport: 'http', url: ctx.hub.url, token: ctx.hub.token });
  });
  afterAll(async () => {
    await ctx.client?.close();
    await ctx.hub?.stop();
    await ctx.oidc?.close();
  });
  return ctx;
}
