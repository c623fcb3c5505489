/**
 * The sandbox provider as the OAuth client's real peer: served over loopback HTTP with a
 * file-backed database, so the tests can count what the provider issued, and a consent step
 * driven as a browser would drive it (form, cookie, redirect read rather than followed).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { z } from 'zod';
import { ConnectionStore } from '../../src/connections/store.js';
import { sqliteConnections } from '../../src/connections/repository.js';
import type { Connection, TokenSet } from '../../src/connections/types.js';
import { OAuthClient, type OAuthEndpoints } from '../../src/oauth/client.js';
import { pkcePair } from '../../src/oauth/pkce.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openDb, type Db } from '../../src/store/db.js';
import { SqliteDataKeys } from '../../src/vault/data-keys.js';
import { ephemeralRing } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import type { SandboxOptions } from '../../servers/sandbox/index.js';
import { tmpDir } from '../helpers/hub.js';
import { CLIENT, openConsent, startSandbox, submitConsent, type Harness } from '../sandbox/harness.js';

export interface Peer extends Harness {
  endpoints: OAuthEndpoints;
  /** A wrapper client bound to the peer's clock. */
  client(overrides?: Partial<OAuthEndpoints>): OAuthClient;
  /** Tokens the provider has issued so far, by kind (every row ever written, used or not). */
  issued(): { access: number; refresh: number };
}

const counts = z.array(z.object({ kind: z.enum(['access', 'refresh']), n: z.number() }));

export async function startPeer(overrides: Partial<Omit<SandboxOptions, 'issuer' | 'clock' | 'dbFile'>> = {}): Promise<Peer> {
  const dir = tmpDir('switchboard-oauth-peer-');
  const dbFile = join(dir.path, 'sandbox.db');
  const h = await startSandbox({ dbFile, ...overrides });
  // A second, read-only connection: the provider's own writes are committed before it answers.
  const reader = new Database(dbFile, { readonly: true });
  const endpoints: OAuthEndpoints = {
    authorizeUrl: `${h.issuer}/oauth/authorize`,
    tokenUrl: `${h.issuer}/oauth/token`,
    revokeUrl: `${h.issuer}/oauth/revoke`,
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    scopes: ['read', 'write'],
  };
  return {
    ...h,
    endpoints,
    client: (o = {}) => new OAuthClient({ ...endpoints, ...o }, h.clock),
    issued() {
      const rows = counts.parse(reader.prepare('SELECT kind, COUNT(*) AS n FROM sandbox_tokens GROUP BY kind').all());
      return { access: rows.find((r) => r.kind === 'access')?.n ?? 0, refresh: rows.find((r) => r.kind === 'refresh')?.n ?? 0 };
    },
    async close() {
      reader.close();
      await h.close();
      dir.remove();
    },
  };
}

export const REDIRECT_URI = CLIENT.redirectUris[0]!;

/** Consent as `username` on the URL the client built; returns the code and state from the redirect. */
export async function consent(peer: Peer, authorizeUrl: string, username: string): Promise<{ code: string; state: string | null; iss: string | null }> {
  const params = Object.fromEntries(new URL(authorizeUrl).searchParams);
  const form = await openConsent(peer, params);
  // A browser posting the form sends its Origin; the provider checks it.
  const res = await submitConsent(peer, form, { username, decision: 'allow' }, { origin: new URL(peer.issuer).origin });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${back.href}`);
  return { code, state: back.searchParams.get('state'), iss: back.searchParams.get('iss') };
}

/** The whole authorization-code flow with PKCE through the wrapper: the first token set. */
export async function linkThrough(peer: Peer, client: OAuthClient, username = 'alice'): Promise<TokenSet> {
  const { verifier, challenge } = pkcePair();
  const { code } = await consent(peer, client.authorizeUrl({ redirectUri: REDIRECT_URI, state: 'st', codeChallenge: challenge }), username);
  return client.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: verifier });
}

/** The tickets API's answer to an access token: 200 when it works, 401 when it does not. */
export async function whoami(peer: Peer, accessToken: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${peer.issuer}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: await res.json() };
}

export interface HubSide {
  db: Db;
  store: ConnectionStore;
  tokens: TokenManager;
  /** Stores a token set as alice's live connection to the peer, as a finished link would. */
  connect(tokens: TokenSet): Promise<Connection>;
  close(): void;
}

/** The hub's side of a connection to the peer: store, vault and token manager on ':memory:'. */
export function hubSide(peer: Peer, client: OAuthClient): HubSide {
  const db = openDb({ file: ':memory:', clock: peer.clock });
  const vault = new Vault({ keys: new SqliteDataKeys(db), ring: ephemeralRing(), clock: peer.clock });
  const store = new ConnectionStore(db, vault, peer.clock);
  const repo = sqliteConnections(store);
  // No waiting between retries: a transient failure here is a test failure, not something to sit out.
  const tokens = new TokenManager({ store: repo, clock: peer.clock, log: silentLogger(), clientFor: () => client, attempts: 1 });
  return {
    db,
    store,
    tokens,
    connect: (t) => repo.link({ tenant: 'default', user: 'alice', integration: 'sandbox', tokens: t, scopes: ['read', 'write'] }),
    close: () => db.close(),
  };
}
