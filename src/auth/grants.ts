import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { RevocationSource } from '../identity/revocation-watch.js';
import type { Vault } from '../vault/vault.js';
import { HUB_TENANT, hashId } from './ids.js';
import { parseAccountId } from './account.js';
import type { AsRecords, StoredAsRecord } from './records.js';

/** What of a hub API token decides whether it still vouches for a user (src/identity/tokens.ts). */
export interface SignInToken {
  revokedAt?: number | null | undefined;
  expiresAt?: number | undefined;
}

/**
 * Whether a hub token a user signed in with still stands at `now`: not revoked and not expired.
 * A grant (and a browser's sign-in session) lasts no longer than the credential that vouched for
 * the user: a token made with `--expires` for a contractor must not become a 90-day grant.
 */
export function tokenStands(token: SignInToken | undefined, now: number): boolean {
  return token !== undefined && !token.revokedAt && (token.expiresAt === undefined || token.expiresAt > now);
}

/** The prefix of an OAuth identity's token id (src/auth/access.ts): sessions are held per grant. */
export const GRANT_TOKEN_PREFIX = 'grant:';

/** How a user signed in for a grant: a hub API token (its id), an invite, or the company's SSO. */
export type SignedInWith = { via: 'token'; tokenId: string } | { via: 'invite' } | { via: 'sso'; issuer: string };

/** One consent a user gave a client, as the management commands and /connect show it. */
export interface GrantView {
  grantId: string;
  tenant: string;
  user: string;
  clientId: string;
  clientName?: string | undefined;
  scopes: string[];
  createdAt: number;
  expiresAt?: number | undefined;
  lastUsedAt?: number | undefined;
  signedInWith?: SignedInWith | undefined;
}

/** Records the hub keeps beside the library's, on the same rows (so a revoked grant takes them along). */
const INFO = 'GrantInfo';
const USE = 'GrantUse';
/** A grant's last use is written at most this often: /mcp requests must not all write. */
const USE_EVERY_MS = 60_000;

const grantPayload = z.looseObject({
  accountId: z.string(),
  clientId: z.string(),
  iat: z.number().optional(),
  exp: z.number().optional(),
  resources: z.record(z.string(), z.string()).optional(),
  openid: z.looseObject({ scope: z.string().optional() }).optional(),
});
const clientPayload = z.looseObject({ client_id: z.string(), client_name: z.string().optional() });
const signedIn = z.union([
  z.object({ via: z.literal('token'), tokenId: z.string() }),
  z.object({ via: z.literal('invite') }),
  z.object({ via: z.literal('sso'), issuer: z.string() }),
]);
const usePayload = z.object({ at: z.number() });

export interface GrantsDeps {
  records: AsRecords;
  vault: Vault;
  clock: Clock;
}

/**
 * Management of OAuth-issued grants, on the authorization server's store without loading the
 * library (the CLI runs this too). Ending a grant deletes all its records — codes, tokens, the
 * grant — so the library refuses them at once; listeners (the HTTP face, through `revocations`)
 * close the grant's open sessions and streams in this process, and other processes see the
 * grant gone at their next poll (`revokedAmong`).
 */
export class Grants {
  private readonly listeners = new Set<(grantId: string) => void>();
  private readonly lastTouch = new Map<string, number>();
  /** How each grant was signed in, once read: the revocation poll asks every second. */
  private readonly signIns = new Map<string, string | null>();

  constructor(private readonly deps: GrantsDeps) {}

  private scope(model: string, key: string) {
    return { tenant: HUB_TENANT, kind: 'oauth_as', id: `${model}:${key}` };
  }

  /** The hub's own records are sealed like the library's: the store holds no account or token id in the clear. */
  private seal(model: string, key: string, value: unknown): string {
    return this.deps.vault.encrypt(this.scope(model, key), JSON.stringify(value));
  }

  private async open(row: StoredAsRecord): Promise<unknown> {
    const { vault } = this.deps;
    return JSON.parse(await vault.decrypting(() => vault.decryptString(this.scope(row.model, row.key), row.payload)));
  }

  /** Every grant, or one user's; the newest first. Expired ones are left out. */
  async list(filter: { tenant?: string; user?: string; clientId?: string } = {}): Promise<GrantView[]> {
    const clientNames = new Map<string, string | undefined>();
    for (const row of await this.deps.records.list('Client')) {
      const c = clientPayload.safeParse(await this.open(row).catch(() => undefined));
      if (c.success) clientNames.set(c.data.client_id, c.data.client_name);
    }
    return this.views(filter, clientNames);
  }

  /**
   * The grant a user already gave a client, signed in the same way (the same hub token, an
   * invite, the same identity provider), if one stands: a later sign-in of that client by that
   * user (another browser, or after the browser's session ended) adds to it, so the app is listed
   * once and one revocation ends all its tokens. A sign-in with another hub token is vouched for
   * by that token alone and gets a grant of its own, which revoking that token ends.
   */
  async heldFor(who: { tenant: string; user: string }, clientId: string, how: SignedInWith): Promise<string | undefined> {
    const held = await this.views({ ...who, clientId }, new Map());
    return held.find((g) => sameSignIn(g.signedInWith, how))?.grantId;
  }

  private async views(
    filter: { tenant?: string; user?: string; clientId?: string },
    clientNames: ReadonlyMap<string, string | undefined>,
  ): Promise<GrantView[]> {
    const { records, clock } = this.deps;
    const now = clock.now();
    const out: GrantView[] = [];
    for (const row of await records.list('Grant')) {
      if (row.grantId === undefined || (row.expiresAt !== undefined && row.expiresAt <= now)) continue;
      const g = grantPayload.safeParse(await this.open(row).catch(() => undefined));
      if (!g.success) continue;
      const who = parseAccountId(g.data.accountId);
      if (who === undefined) continue;
      if (filter.tenant !== undefined && who.tenant !== filter.tenant) continue;
      if (filter.user !== undefined && who.user !== filter.user) continue;
      if (filter.clientId !== undefined && g.data.clientId !== filter.clientId) continue;
      const scopes = new Set<string>();
      for (const s of [...Object.values(g.data.resources ?? {}), g.data.openid?.scope ?? '']) for (const one of s.split(' ')) if (one) scopes.add(one);
      const info = await records.find(INFO, hashId(row.grantId));
      const use = await records.find(USE, hashId(row.grantId));
      const how = info === undefined ? undefined : signedIn.safeParse(await this.open(info).catch(() => undefined));
      const used = use === undefined ? undefined : usePayload.safeParse(await this.open(use).catch(() => undefined));
      out.push({
        grantId: row.grantId,
        ...who,
        clientId: g.data.clientId,
        clientName: clientNames.get(g.data.clientId),
        scopes: [...scopes],
        createdAt: (g.data.iat ?? 0) * 1000,
        expiresAt: row.expiresAt,
        lastUsedAt: used?.success ? used.data.at : undefined,
        signedInWith: how?.success ? how.data : undefined,
      });
    }
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Ends one grant; resolves false when there was none. */
  async revoke(grantId: string): Promise<boolean> {
    const gone = (await this.deps.records.revokeGrant(grantId)) > 0;
    if (gone) this.ended(grantId);
    return gone;
  }

  /**
   * Ends every grant of a client and forgets its registration (a DCR client registers again; a
   * metadata document is fetched again). Resolves the grants ended.
   */
  async revokeClient(clientId: string): Promise<number> {
    const grants = await this.list({ clientId });
    for (const g of grants) await this.revoke(g.grantId);
    await this.deps.records.destroy('Client', hashId(clientId));
    return grants.length;
  }

  /**
   * How the user signed in rides on the library's session as its `amr` (RFC 8176 names methods;
   * these are the hub's own), so the consent step, which may come in a later request or for
   * another client in the same browser, can record it beside the grant. `amr` can reach ID tokens
   * (OpenID Connect Core §2), so the hub token's id goes there sealed.
   */
  async amrOf(how: SignedInWith): Promise<string[]> {
    if (how.via === 'invite') return ['invite'];
    if (how.via === 'sso') return ['sso'];
    await this.deps.vault.ensureDataKey(HUB_TENANT);
    return ['hub_token', `ref:${this.deps.vault.encrypt(this.scope('SignIn', 'amr'), JSON.stringify(how))}`];
  }

  /** The sign-in an `amr` of `amrOf` names; the SSO issuer is the configured one. */
  async signedInWith(amr: readonly string[] | undefined, ssoIssuer?: string): Promise<SignedInWith | undefined> {
    const ref = amr?.find((m) => m.startsWith('ref:'));
    if (ref !== undefined) {
      const { vault } = this.deps;
      const how = signedIn.safeParse(
        await vault.decrypting(() => JSON.parse(vault.decryptString(this.scope('SignIn', 'amr'), ref.slice('ref:'.length)))).catch(() => undefined),
      );
      return how.success ? how.data : undefined;
    }
    if (amr?.includes('invite')) return { via: 'invite' };
    return amr?.includes('sso') && ssoIssuer !== undefined ? { via: 'sso', issuer: ssoIssuer } : undefined;
  }

  /** Remembers how the user signed in for this grant: revoking that hub token ends it too. */
  async noteSignIn(grantId: string, how: SignedInWith): Promise<void> {
    this.signIns.delete(grantId);
    await this.deps.records.upsert({
      model: INFO,
      key: hashId(grantId),
      payload: this.seal(INFO, hashId(grantId), how),
      grantId,
      // Hashed, and scoped apart from a session's uid hash: looked up when the token is revoked.
      uidKey: how.via === 'token' ? hashId(`hub_token:${how.tokenId}`) : undefined,
    });
  }

  /** A grant's token was used at /mcp; written at most once a minute per grant. */
  async touch(grantId: string): Promise<void> {
    const now = this.deps.clock.now();
    if (now - (this.lastTouch.get(grantId) ?? Number.NEGATIVE_INFINITY) < USE_EVERY_MS) return;
    this.lastTouch.set(grantId, now);
    if (this.lastTouch.size > 10_000) this.lastTouch.delete(this.lastTouch.keys().next().value!);
    await this.deps.records.upsert({ model: USE, key: hashId(grantId), payload: this.seal(USE, hashId(grantId), { at: now }), grantId });
  }

  /**
   * The hub token a user signed in with was revoked: the grants it created end too. The
   * credential that vouched for the user is gone, and a stolen token's holder must not keep the
   * access it granted itself (the safer default; issue 12, part 2).
   */
  async endSignedInWith(tokenId: string): Promise<string[]> {
    const ended: string[] = [];
    for (const id of await this.signedInWithToken(tokenId)) if (await this.revoke(id)) ended.push(id);
    return ended;
  }

  /** The grants still held that a user signed in with this hub token. */
  async signedInWithToken(tokenId: string): Promise<string[]> {
    const rows = await this.deps.records.listByUid(INFO, hashId(`hub_token:${tokenId}`));
    const ids = rows.flatMap((r) => (r.grantId === undefined ? [] : [r.grantId]));
    const ended = new Set(await this.endedAmong(ids));
    return ids.filter((id) => !ended.has(id));
  }

  /** Which of these grant ids no longer hold: revoked, or expired on the hub's clock. */
  async endedAmong(grantIds: readonly string[]): Promise<string[]> {
    const now = this.deps.clock.now();
    const out: string[] = [];
    for (const id of grantIds) {
      const row = await this.deps.records.find('Grant', hashId(id));
      if (row === undefined || (row.expiresAt !== undefined && row.expiresAt <= now)) out.push(id);
    }
    return out;
  }

  /**
   * Whether a grant's sign-in still stands, checked at each use (src/auth/access.ts, a refresh):
   * one signed in with a hub token ends when that token is revoked or expires. `token` reads the
   * hub token (the CLI and the HTTP face each have their own).
   */
  async signInStands(grantId: string, token: (tokenId: string) => Promise<SignInToken | undefined>): Promise<boolean> {
    const tokenId = (await this.signInTokens([grantId])).get(grantId);
    return tokenId === undefined || tokenStands(await token(tokenId), this.deps.clock.now());
  }

  /** The hub token each of these grants was signed in with, where one was. */
  async signInTokens(grantIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const id of grantIds) {
      let tokenId = this.signIns.get(id);
      if (tokenId === undefined) {
        const row = await this.deps.records.find(INFO, hashId(id));
        const how = row === undefined ? undefined : signedIn.safeParse(await this.open(row).catch(() => undefined));
        tokenId = how?.success && how.data.via === 'token' ? how.data.tokenId : null;
        // A grant is signed in before its sessions exist, so what is read here does not change.
        if (row !== undefined) this.signIns.set(id, tokenId);
        if (this.signIns.size > 10_000) this.signIns.delete(this.signIns.keys().next().value!);
      }
      if (tokenId !== null) out.set(id, tokenId);
    }
    return out;
  }

  onEnded(fn: (grantId: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called by whatever deleted a grant's records in this process (here, or the library's revocation). */
  ended(grantId: string): void {
    this.lastTouch.delete(grantId);
    this.signIns.delete(grantId);
    for (const fn of this.listeners) fn(grantId);
  }
}

/** Whether two sign-ins vouch for the user alike: the same hub token, an invite each, or the same identity provider. */
function sameSignIn(a: SignedInWith | undefined, b: SignedInWith): boolean {
  if (a === undefined) return false;
  switch (a.via) {
    case 'token':
      return b.via === 'token' && b.tokenId === a.tokenId;
    case 'sso':
      return b.via === 'sso' && b.issuer === a.issuer;
    case 'invite':
      return b.via === 'invite';
  }
}

/**
 * What the HTTP face watches: hub API tokens, and the grants behind OAuth identities
 * (`grant:<id>`). A revoked hub token ends the grants it signed in, so their sessions close too.
 */
export function revocationSource(
  tokens: RevocationSource & { get(id: string): Promise<SignInToken | undefined> },
  grants: Grants,
  clock: Clock,
): RevocationSource {
  return {
    onRevoked(fn) {
      const a = tokens.onRevoked(fn);
      const b = grants.onEnded((id) => fn(`${GRANT_TOKEN_PREFIX}${id}`));
      return () => {
        a();
        b();
      };
    },
    async revokedAmong(ids) {
      const plain = ids.filter((id) => !id.startsWith(GRANT_TOKEN_PREFIX));
      const grantIds = ids.filter((id) => id.startsWith(GRANT_TOKEN_PREFIX)).map((id) => id.slice(GRANT_TOKEN_PREFIX.length));
      const [revoked, ended] = await Promise.all([tokens.revokedAmong(plain), grants.endedAmong(grantIds)]);
      // A grant whose sign-in token was revoked by a process that did not end it (one that
      // stopped in between), or has expired since: ended here, by whichever hub sees it first,
      // so the grant's open sessions and streams close as the token's own do.
      const alive = grantIds.filter((id) => !ended.includes(id));
      const signIns = await grants.signInTokens(alive);
      for (const [grantId, tokenId] of signIns) {
        const token = await tokens.get(tokenId);
        if (token !== undefined && !tokenStands(token, clock.now()) && (await grants.revoke(grantId))) ended.push(grantId);
      }
      return [...revoked, ...ended.map((id) => `${GRANT_TOKEN_PREFIX}${id}`)];
    },
  };
}
