import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { AuthConfig } from '../config/schema.js';
import type { Vault } from '../vault/vault.js';
import { parseAccountId } from './account.js';
import { HUB_TENANT, hashId } from './ids.js';
import type { AsRecords } from './records.js';
import { SIGN_IN_PATH } from './routes.js';

/** Where the company's identity provider sends the browser back; registered there by the operator. */
export const SSO_CALLBACK_PATH = `${SIGN_IN_PATH}/sso/callback`;
const MODEL = 'SsoState';
/** A sign-in at the identity provider must come back within this. */
const STATE_TTL_MS = 10 * 60_000;

type OidcConfig = NonNullable<AuthConfig['oidc']>;

const discoverySchema = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  userinfo_endpoint: z.url().optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});
const tokenSchema = z.looseObject({ id_token: z.string(), token_type: z.string(), access_token: z.string().optional() });
const claimsSchema = z.looseObject({
  iss: z.string(),
  sub: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  azp: z.string().optional(),
  exp: z.number(),
  nonce: z.string().optional(),
  email: z.string().optional(),
  email_verified: z.boolean().optional(),
});
const userInfoSchema = z.looseObject({ sub: z.string(), email: z.string().optional(), email_verified: z.boolean().optional() });
const pendingSchema = z.object({ uid: z.string(), verifier: z.string(), nonce: z.string() });

export class SsoError extends Error {}

export interface SsoDeps {
  config: OidcConfig;
  /** The hub's issuer (its public URL): the callback is on it. */
  hubUrl: string;
  records: AsRecords;
  vault: Vault;
  clock: Clock;
  fetch?: typeof globalThis.fetch;
}

/**
 * Signing users in with the company's OpenID Connect provider (`auth.oidc`): authorization code
 * with PKCE S256, a `state` spent once and bound to the hub's sign-in interaction, the RFC 9207
 * `iss` parameter checked, and the ID token's `iss`, `aud`, `exp` and `nonce` checked. The ID
 * token comes straight from the token endpoint over the connection the hub opened, so its
 * signature is not what vouches for it (OpenID Connect Core §3.1.3.7, item 6). The subject, or a
 * verified email, names the hub user.
 */
export class Sso {
  private discovered: Promise<z.infer<typeof discoverySchema>> | undefined;
  private readonly fetch: typeof globalThis.fetch;
  readonly issuer: string;

  constructor(private readonly deps: SsoDeps) {
    this.fetch = deps.fetch ?? globalThis.fetch;
    this.issuer = deps.config.issuer.replace(/\/$/, '');
  }

  get redirectUri(): string {
    return `${this.deps.hubUrl}${SSO_CALLBACK_PATH}`;
  }

  private metadata() {
    this.discovered ??= (async () => {
      const res = await this.fetch(`${this.issuer}/.well-known/openid-configuration`, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new SsoError(`the identity provider's metadata answered ${res.status}`);
      const m = discoverySchema.parse(await res.json());
      // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
      if (m.issuer.replace(/\/$/, '') !== this.issuer) throw new SsoError(`the identity provider says its issuer is ${m.issuer}, not ${this.issuer}`);
      return m;
    })();
    this.discovered.catch(() => (this.discovered = undefined));
    return this.discovered;
  }

  private scope(key: string) {
    return { tenant: HUB_TENANT, kind: 'oauth_as', id: `${MODEL}:${key}` };
  }

  /**
   * The identity provider's authorization URL for this sign-in interaction. `reauthenticate`
   * (the app asked for `prompt=login`, or the user chose "sign in as someone else") asks the
   * provider for a fresh sign-in too: its own session would otherwise answer for the same person.
   */
  async begin(uid: string, opts: { reauthenticate?: boolean } = {}): Promise<string> {
    const m = await this.metadata();
    const state = randomBytes(32).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    const key = hashId(state);
    await this.deps.vault.ensureDataKey(HUB_TENANT);
    const payload = this.deps.vault.encrypt(this.scope(key), JSON.stringify({ uid, verifier, nonce }));
    await this.deps.records.upsert({ model: MODEL, key, payload, expiresAt: this.deps.clock.now() + STATE_TTL_MS });
    const url = new URL(m.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: this.deps.config.clientId,
      redirect_uri: this.redirectUri,
      scope: this.deps.config.userFrom === 'email' ? 'openid email' : 'openid',
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...(opts.reauthenticate ? { prompt: 'login' } : {}),
    }))
      url.searchParams.set(k, v);
    return url.href;
  }

  /** The interaction a callback's state belongs to, without spending it (the browser is sent there next). */
  async interactionOf(state: string): Promise<string | undefined> {
    const row = await this.deps.records.find(MODEL, hashId(state));
    if (row === undefined || row.consumedAt !== undefined || (row.expiresAt ?? 0) <= this.deps.clock.now()) return undefined;
    return pendingSchema.parse(JSON.parse(await this.open(hashId(state), row.payload))).uid;
  }

  private open(key: string, sealed: string): Promise<string> {
    return this.deps.vault.decrypting(() => this.deps.vault.decryptString(this.scope(key), sealed));
  }

  /** Spends the state, redeems the code and names the hub user; throws SsoError saying why not. */
  async finish(uid: string, params: { code?: unknown; state?: unknown; iss?: unknown }): Promise<{ tenant: string; user: string }> {
    if (typeof params.state !== 'string' || typeof params.code !== 'string') throw new SsoError('the identity provider sent no code');
    const key = hashId(params.state);
    const row = await this.deps.records.find(MODEL, key);
    if (row === undefined || (row.expiresAt ?? 0) <= this.deps.clock.now()) throw new SsoError('this sign-in has expired; start again from your app');
    const pending = pendingSchema.parse(JSON.parse(await this.open(key, row.payload)));
    if (pending.uid !== uid) throw new SsoError('this answer belongs to another sign-in');
    if (!(await this.deps.records.consume(MODEL, key, this.deps.clock.now()))) throw new SsoError('this sign-in was already completed');
    const m = await this.metadata();
    // RFC 9207: the answer names who sent it, so one from another provider is told apart.
    if (params.iss !== undefined ? params.iss !== m.issuer : m.authorization_response_iss_parameter_supported === true)
      throw new SsoError('the answer did not come from the configured identity provider');
    const { clientId, clientSecret } = this.deps.config;
    const res = await this.fetch(m.token_endpoint, {
      method: 'POST',
      redirect: 'error',
      signal: AbortSignal.timeout(10_000),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        // RFC 6749 §2.3.1: form-encode each part before joining them.
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: params.code, redirect_uri: this.redirectUri, code_verifier: pending.verifier }),
    });
    if (!res.ok) throw new SsoError(`the identity provider refused the code (${res.status})`);
    const token = tokenSchema.parse(await res.json());
    const claims = claimsSchema.parse(JSON.parse(Buffer.from(token.id_token.split('.')[1] ?? '', 'base64url').toString()));
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== m.issuer || !aud.includes(clientId) || (aud.length > 1 && claims.azp !== clientId))
      throw new SsoError('the ID token was not issued to this hub');
    if (claims.exp * 1000 <= this.deps.clock.now()) throw new SsoError('the ID token has expired');
    if (claims.nonce !== pending.nonce) throw new SsoError('the ID token belongs to another sign-in');
    const name = this.deps.config.userFrom === 'email' ? await this.verifiedEmail(claims, m, token.access_token) : claims.sub;
    const who = parseAccountId(`${this.deps.config.tenant}/${name}`);
    if (who === undefined) throw new SsoError(`"${name}" cannot be a hub user name (letters, digits and . _ @ - only)`);
    return who;
  }
  /**
   * The user's verified email, lower-cased (one person, one hub user, however the address is typed).
   * Providers that follow OpenID Connect Core §5.4 for the code flow put scope claims in UserInfo
   * rather than the ID token, so it is asked when the ID token has none; its `sub` must be the ID
   * token's (§5.3.2), or it describes someone else.
   */
  private async verifiedEmail(claims: z.infer<typeof claimsSchema>, m: z.infer<typeof discoverySchema>, accessToken: string | undefined): Promise<string> {
    let said: { email?: string | undefined; email_verified?: boolean | undefined } = claims;
    if (claims.email === undefined && m.userinfo_endpoint !== undefined && accessToken !== undefined) {
      const res = await this.fetch(m.userinfo_endpoint, {
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      });
      if (!res.ok) throw new SsoError(`the identity provider's UserInfo answered ${res.status}`);
      const info = userInfoSchema.safeParse(await res.json().catch(() => undefined));
      if (!info.success) throw new SsoError("the identity provider's UserInfo answer is not a JSON object with a sub");
      if (info.data.sub !== claims.sub) throw new SsoError("the identity provider's UserInfo describes another subject than its ID token");
      said = info.data;
    }
    if (said.email === undefined || said.email_verified !== true) throw new SsoError('the identity provider did not vouch for an email address');
    return said.email.toLowerCase();
  }
}
