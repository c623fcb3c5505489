import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { ConnectionReads, ConnectionWrites } from '../connections/repository.js';
import type { Connection } from '../connections/types.js';
import { HubError } from '../errors.js';
import type { Vault } from '../vault/vault.js';
import { OAuthGrantError, OAuthTransientError, type CodeExchange, type OAuthClient } from './client.js';
import type { FlowRepository } from './flow-store.js';
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
  /**
   * Where the config sets `issuer`, named when a callback brings another; `defaulted` when it is
   * unset and the issuer is the authorize URL's origin. Absent for a built-in, whose issuer is its own.
   */
  issuerSetting?: { key: string; defaulted: boolean };
  /** Refuse a callback without `iss` (the server is known to send it). */
  requireIss?: boolean;
  scopes: string[];
  /**
   * What the link learns of the account: its provider id (for routing its webhooks; undefined when
   * unknown) and the values of the integration's apiBaseUrl placeholders. Throws (a HubError) when
   * a value cannot be learned or fails its checks: then nothing is linked.
   */
  learn?: (exchange: CodeExchange) => Promise<Learned>;
}

/** What a link learned of the account it linked (src/integrations/account-id.ts). */
export interface Learned {
  accountId?: string;
  apiValues: Record<string, string>;
}

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
 * What a failed redemption tells the user. A provider that failed on its side, turned us away
 * (429) or did not answer is worth another try, with a new link: the state is spent and a code
 * works once (RFC 6749 §4.1.2). A refused code or an unusable answer is not. The message is shown
 * on the page and logged, so a code the provider echoes in its description is taken out.
 */
function redeemFailure(err: OAuthGrantError | OAuthTransientError, code: string, i: FlowIntegration): HubError {
  const details = { integration: i.name, status: err.status };
  // Real codes are long random strings; a short one would match ordinary words in the message.
  const scrub = (text: string) => (code.length >= 8 ? text.replaceAll(code, '[code]') : text);
  const why = scrub(err.message);
  if (err instanceof OAuthTransientError) {
    const wait = err.retryAfterMs === undefined ? 'in a moment' : `in ${Math.ceil(err.retryAfterMs / 1000)} s`;
    return new HubError(
      'oauth_endpoint_unavailable',
      `${i.title} could not be reached to finish linking (${why}); nothing was linked. Try again ${wait} with a new link: call the tool again, or run \`switchboard connect ${i.name}\`.`,
      { cause: err, details },
    );
  }
  if (err.error === 'invalid_token_response')
    return new HubError(
      'oauth_flow_failed',
      `${i.title} answered the authorization code with a token response the hub cannot use: ${scrub(err.description ?? 'no details')}; nothing was linked`,
      { cause: err, details },
    );
  return new HubError('oauth_flow_failed', `${i.title} refused the authorization code: ${why}`, { cause: err, details });
}

/**
 * Why a callback's `iss` is refused, and what to change when the server is the one configured:
 * servers whose issuer has a path (Keycloak's …/realms/<realm>, Okta's …/oauth2/default) send it
 * on every authorization response (RFC 9207), and it is not the authorize URL's origin the hub
 * expects by default.
 */
function unexpectedIssuer(iss: string, i: FlowIntegration): string {
  const refused = `the authorization came back from an unexpected issuer (${iss})`;
  const setting = i.issuerSetting;
  if (setting === undefined) return `${refused}; ${i.title} is expected to answer as ${i.issuer}`;
  const expected = setting.defaulted ? `the authorize URL's origin, as ${setting.key} is not set` : `set in ${setting.key}`;
  return `${refused}; the hub expects ${i.issuer}, ${expected}. If ${iss} is the issuer of the authorization server configured for ${i.title}, set ${setting.key} to it`;
}

/**
 * Authorization-code flows with PKCE S256 (RFC 7636) and a one-time `state` that is bound to the
 * browser that started the flow: a callback opened anywhere else — another user's browser — is
 * refused, which closes the login-CSRF hole that state alone leaves open.
 */
export class OAuthFlows {
  constructor(
    private readonly flows: FlowRepository,
    private readonly vault: Vault,
    private readonly connections: Pick<ConnectionWrites, 'link'> & Pick<ConnectionReads, 'find'>,
    private readonly clock: Clock,
    private readonly redirectUri: string,
  ) {}

  /** Starts a flow for a verified link. Returns where to send the browser and the cookie that binds it. */
  async begin(link: LinkPayload, integration: FlowIntegration): Promise<{ authorizeUrl: string; state: string; browserSecret: string }> {
    const state = randomBytes(32).toString('base64url');
    const browserSecret = randomBytes(32).toString('base64url');
    const { verifier, challenge } = pkcePair();
    const stateHash = hash(state);
    await this.vault.ensureDataKey(link.t);
    const now = this.clock.now();
    await this.flows.create({
      stateHash,
      tenant: link.t,
      user: link.u,
      integration: integration.name,
      sealedVerifier: this.vault.encrypt({ tenant: link.t, kind: 'pkce_verifier', id: stateHash }, verifier),
      browserHash: hash(browserSecret),
      redirectUri: this.redirectUri,
      createdAt: now,
      expiresAt: now + FLOW_TTL_MS,
    });
    // Old flows are dead weight: drop those expired a day ago.
    await this.flows.purge(now - 86_400_000);
    return { authorizeUrl: integration.client.authorizeUrl({ redirectUri: this.redirectUri, state, codeChallenge: challenge }), state, browserSecret };
  }

  /** The integration a callback's state belongs to, without consuming it. */
  async integrationOf(state: string): Promise<string | undefined> {
    return (await this.flows.find(hash(state)))?.integration;
  }

  /** When this user last completed a flow for the integration (the callback was used), if ever. */
  lastCompleted(tenant: string, user: string, integration: string): Promise<number | undefined> {
    return this.flows.lastCompleted(tenant, user, integration);
  }

  stateHash(state: string): string {
    return hash(state);
  }

  /** Completes a flow: every check before any change; the state is spent before the code is redeemed. */
  async complete(q: CallbackQuery, browserSecret: string | undefined, integration: FlowIntegration): Promise<Connection> {
    // The integration rides along so the route can log which one failed.
    const failed = (message: string) => new HubError('oauth_flow_failed', message, { details: { integration: integration.name } });
    if (!q.state) throw failed('the authorization response has no state');
    const flow = await this.flows.find(hash(q.state));
    if (flow === undefined) throw failed('this authorization response is unknown or too old; start linking again');
    if (flow.usedAt !== null) throw failed('this authorization response was already used');
    if (flow.expiresAt <= this.clock.now()) throw failed('this authorization took too long and expired; start linking again');
    if (!browserSecret || hash(browserSecret) !== flow.browserHash) {
      throw failed('this authorization was started in another browser or for another user; open your own link');
    }
    // RFC 9207 §2.4: when the server identifies itself, it must be the one we sent the user to (mix-up defence).
    if (q.iss === undefined && integration.requireIss) throw failed('the authorization response does not say which server issued it');
    if (q.iss !== undefined && q.iss !== integration.issuer) throw failed(unexpectedIssuer(q.iss, integration));
    if (!(await this.flows.spend(flow.stateHash, this.clock.now()))) throw failed('this authorization response was already used');
    if (q.error !== undefined) {
      const why =
        q.error === 'access_denied'
          ? 'access was denied at the provider'
          : `the provider answered ${q.error}${q.error_description ? `: ${q.error_description}` : ''}`;
      throw failed(`${integration.title} was not linked: ${why}`);
    }
    if (!q.code) throw failed('the authorization response has no code');
    // The flow may have been started by another process on this store, under a data key it created.
    const verifier = await this.vault.decrypting(() =>
      this.vault.decryptString({ tenant: flow.tenant, kind: 'pkce_verifier', id: flow.stateHash }, flow.sealedVerifier),
    );
    let exchange: CodeExchange;
    try {
      exchange = await integration.client.redeemCode({ code: q.code, redirectUri: flow.redirectUri, codeVerifier: verifier });
    } catch (err) {
      if (err instanceof OAuthGrantError || err instanceof OAuthTransientError) throw redeemFailure(err, q.code, integration);
      throw err;
    }
    const { tokens } = exchange;
    let learned: Learned | undefined;
    try {
      learned = await integration.learn?.(exchange);
    } catch (err) {
      // The provider granted the app access that the page is about to say was not linked: on a
      // first link the grant is withdrawn where the provider takes revocations (best effort, the
      // page not held for it), rather than left authorised with tokens nobody keeps. Not on a
      // relink: revoking one token ends the whole grant at some providers (Google's), and with
      // it the connection the failed relink leaves as it was.
      const kept = await this.connections.find(flow.tenant, flow.user, integration.name).catch(() => undefined);
      if (kept === undefined || kept.state === 'revoked') void integration.client.revoke(tokens).catch(() => false);
      throw err;
    }
    const accountId = learned?.accountId;
    return this.connections.link({
      tenant: flow.tenant,
      user: flow.user,
      integration: integration.name,
      tokens,
      scopes: tokens.scope ? tokens.scope.split(/[\s,]+/).filter(Boolean) : integration.scopes,
      ...(accountId === undefined ? {} : { accountId }),
      ...(learned === undefined ? {} : { apiValues: learned.apiValues }),
    });
  }
}
