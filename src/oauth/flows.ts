import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { ConnectionWrites } from '../connections/repository.js';
import type { Connection } from '../connections/types.js';
import { HubError } from '../errors.js';
import type { Db } from '../store/db.js';
import type { Vault } from '../vault/vault.js';
import { OAuthGrantError, OAuthTransientError, type OAuthClient } from './client.js';
import type { LinkPayload } from './links.js';
import { pkcePair } from './pkce.js';

/** An authorization response has to come back within this time. */
export const FLOW_TTL_MS = 10 * 60_000;

export interface FlowIntegration {
  name: string;
  title: string;
  client: OAuthClient;
  /** Expected `iss` on the callback (RFC 9207). */
  issuer: string;
  /** Refuse a callback without `iss` (the server is known to send it). */
  requireIss?: boolean;
  scopes: string[];
}

const flowRow = z.object({
  state_hash: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  integration: z.string(),
  verifier: z.string(),
  browser_hash: z.string(),
  redirect_uri: z.string(),
  expires_at: z.number(),
  used_at: z.number().nullable(),
});

export const callbackQuery = z.object({
  state: z.string().min(1).max(512).optional(),
  code: z.string().min(1).max(4096).optional(),
  iss: z.string().max(2048).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});
export type CallbackQuery = z.infer<typeof callbackQuery>;

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Authorization-code flows with PKCE S256 (RFC 7636) and a one-time `state` that is bound to the
 * browser that started the flow: a callback opened anywhere else — another user's browser — is
 * refused, which closes the login-CSRF hole that state alone leaves open.
 */
export class OAuthFlows {
  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly connections: Pick<ConnectionWrites, 'link'>,
    private readonly clock: Clock,
    private readonly redirectUri: string,
  ) {}

  /** Starts a flow for a verified link. Returns where to send the browser and the cookie that binds it. */
  begin(link: LinkPayload, integration: FlowIntegration): { authorizeUrl: string; state: string; browserSecret: string } {
    const state = randomBytes(32).toString('base64url');
    const browserSecret = randomBytes(32).toString('base64url');
    const { verifier, challenge } = pkcePair();
    const now = this.clock.now();
    const stateHash = hash(state);
    this.db
      .prepare(
        `INSERT INTO oauth_flows (state_hash, tenant_id, user_id, integration, verifier, browser_hash, redirect_uri, created_at, expires_at)
         VALUES (@stateHash, @tenant, @user, @integration, @verifier, @browser, @redirect, @now, @exp)`,
      )
      .run({
        stateHash,
        tenant: link.t,
        user: link.u,
        integration: integration.name,
        verifier: this.vault.encrypt({ tenant: link.t, kind: 'pkce_verifier', id: stateHash }, verifier),
        browser: hash(browserSecret),
        redirect: this.redirectUri,
        now,
        exp: now + FLOW_TTL_MS,
      });
    // Old flows are dead weight: drop those expired a day ago.
    this.db.prepare('DELETE FROM oauth_flows WHERE expires_at < ?').run(now - 86_400_000);
    return { authorizeUrl: integration.client.authorizeUrl({ redirectUri: this.redirectUri, state, codeChallenge: challenge }), state, browserSecret };
  }

  /** The integration a callback's state belongs to, without consuming it. */
  integrationOf(state: string): string | undefined {
    return this.db.prepare('SELECT integration FROM oauth_flows WHERE state_hash = ?').pluck().get(hash(state)) as string | undefined;
  }

  /** When this user last completed a flow for the integration (the callback was used), if ever. */
  lastCompleted(tenant: string, user: string, integration: string): number | undefined {
    const at = this.db
      .prepare('SELECT max(used_at) FROM oauth_flows WHERE tenant_id = ? AND user_id = ? AND integration = ?')
      .pluck()
      .get(tenant, user, integration) as number | null;
    return at ?? undefined;
  }

  stateHash(state: string): string {
    return hash(state);
  }

  /** Completes a flow: every check before any change; the state is spent before the code is redeemed. */
  async complete(q: CallbackQuery, browserSecret: string | undefined, integration: FlowIntegration): Promise<Connection> {
    if (!q.state) throw new HubError('oauth_flow_failed', 'the authorization response has no state');
    const r = this.db.prepare('SELECT * FROM oauth_flows WHERE state_hash = ?').get(hash(q.state));
    if (r === undefined) throw new HubError('oauth_flow_failed', 'this authorization response is unknown or too old; start linking again');
    const flow = flowRow.parse(r);
    if (flow.used_at !== null) throw new HubError('oauth_flow_failed', 'this authorization response was already used');
    if (flow.expires_at <= this.clock.now()) throw new HubError('oauth_flow_failed', 'this authorization took too long and expired; start linking again');
    if (!browserSecret || hash(browserSecret) !== flow.browser_hash) {
      throw new HubError('oauth_flow_failed', 'this authorization was started in another browser or for another user; open your own link');
    }
    // RFC 9207 §2.4: when the server identifies itself, it must be the one we sent the user to (mix-up defence).
    if (q.iss === undefined && integration.requireIss)
      throw new HubError('oauth_flow_failed', 'the authorization response does not say which server issued it');
    if (q.iss !== undefined && q.iss !== integration.issuer)
      throw new HubError('oauth_flow_failed', `the authorization came back from an unexpected issuer (${q.iss})`);
    const spent = this.db.prepare('UPDATE oauth_flows SET used_at = ? WHERE state_hash = ? AND used_at IS NULL').run(this.clock.now(), flow.state_hash);
    if (spent.changes !== 1) throw new HubError('oauth_flow_failed', 'this authorization response was already used');
    if (q.error !== undefined) {
      const why =
        q.error === 'access_denied'
          ? 'access was denied at the provider'
          : `the provider answered ${q.error}${q.error_description ? `: ${q.error_description}` : ''}`;
      throw new HubError('oauth_flow_failed', `${integration.title} was not linked: ${why}`);
    }
    if (!q.code) throw new HubError('oauth_flow_failed', 'the authorization response has no code');
    const verifier = this.vault.decryptString({ tenant: flow.tenant_id, kind: 'pkce_verifier', id: flow.state_hash }, flow.verifier);
    let tokens: Awaited<ReturnType<typeof integration.client.exchangeCode>>;
    try {
      tokens = await integration.client.exchangeCode({ code: q.code, redirectUri: flow.redirect_uri, codeVerifier: verifier });
    } catch (err) {
      if (err instanceof OAuthGrantError || err instanceof OAuthTransientError)
        throw new HubError('oauth_flow_failed', `${integration.title} refused the authorization code: ${err.message}`, { cause: err });
      throw err;
    }
    return this.connections.link({
      tenant: flow.tenant_id,
      user: flow.user_id,
      integration: integration.name,
      tokens,
      scopes: tokens.scope ? tokens.scope.split(/[\s,]+/).filter(Boolean) : integration.scopes,
    });
  }
}
