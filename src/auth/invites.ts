import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Vault } from '../vault/vault.js';
import { HubError } from '../errors.js';
import { HUB_TENANT, hashId } from './ids.js';
import { accountId, parseAccountId } from './account.js';
import type { AsRecords } from './records.js';
import { SIGN_IN_PATH } from './routes.js';

const MODEL = 'Invite';
/** Which interaction spent an invite (hashed), kept as long as the invite's own row. */
const SPENT_BY = 'InviteSpentBy';
/** `sbi_` and 32 random bytes: recognisable in a paste, and as hard to guess as a hub token. */
const CODE = /^sbi_[A-Za-z0-9_-]{43}$/;
export const INVITE_PATH = `${SIGN_IN_PATH}/invite`;
/** An invite lives a day unless the operator says otherwise, and at most 30 days. */
export const DEFAULT_INVITE_MS = 86_400_000;
export const MAX_INVITE_MS = 30 * 86_400_000;

const payload = z.object({ account: z.string(), expiresAt: z.number() });
/** A spent or expired invite is kept this long, so the page can say which it was rather than "unknown". */
const KEEP_MS = 7 * 86_400_000;

/** `again`: the interaction that spent the link sent it again (a double click, a resent form). */
export type Redeemed = { tenant: string; user: string; again: boolean } | 'expired' | 'used' | undefined;

/** What an invite may not be: refused alike by `Invites.create` and by `users invite` before it opens (or makes) a store. */
export function checkInvite(who: { tenant: string; user: string }, lifetimeMs: number): void {
  if (!(lifetimeMs > 0 && lifetimeMs <= MAX_INVITE_MS)) throw new HubError('invalid_params', 'an invite lives at most 30 days');
  if (parseAccountId(accountId(who)) === undefined) throw new HubError('invalid_params', `"${who.tenant}/${who.user}" is not a hub user name`);
}

/**
 * One-time sign-in links (`switchboard users invite`): the operator hands a user a link instead
 * of a hub token. The code is kept hashed, beside the authorization server's records; redeeming
 * is a guarded consume, so of two sign-ins with one link (another tab, another process) one wins.
 * A used or expired invite stays until the sweep, so the page can say which it was.
 */
export class Invites {
  constructor(
    private readonly records: AsRecords,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  private scope(key: string, model = MODEL) {
    return { tenant: HUB_TENANT, kind: 'oauth_as', id: `${model}:${key}` };
  }

  private async open(key: string, model: string, sealed: string): Promise<string> {
    return this.vault.decrypting(() => this.vault.decryptString(this.scope(key, model), sealed));
  }

  /** Whether this interaction is the one that spent the invite. */
  private async spentBy(key: string, interaction: string): Promise<boolean> {
    const row = await this.records.find(SPENT_BY, key);
    return row !== undefined && (await this.open(key, SPENT_BY, row.payload)) === hashId(interaction);
  }

  async create(who: { tenant: string; user: string }, lifetimeMs = DEFAULT_INVITE_MS): Promise<{ code: string; expiresAt: number }> {
    checkInvite(who, lifetimeMs);
    const code = `sbi_${randomBytes(32).toString('base64url')}`;
    const expiresAt = this.clock.now() + lifetimeMs;
    const key = hashId(code);
    await this.vault.ensureDataKey(HUB_TENANT);
    await this.records.upsert({
      model: MODEL,
      key,
      payload: this.vault.encrypt(this.scope(key), JSON.stringify({ account: accountId(who), expiresAt })),
      expiresAt: expiresAt + KEEP_MS,
    });
    return { code, expiresAt };
  }

  /**
   * Spends the invite once, for the sign-in `interaction` (the library's uid). That interaction
   * sending it again gets the user again (its browser shows the answer to the last of two posts);
   * any other is refused. The winner notes itself after its guarded consume: a post of the same
   * interaction read between the two writes is refused as used, as every post was before.
   */
  async redeem(code: string, interaction: string): Promise<Redeemed> {
    if (!CODE.test(code)) return undefined;
    const key = hashId(code);
    const row = await this.records.find(MODEL, key);
    if (row === undefined) return undefined;
    const now = this.clock.now();
    const invite = payload.parse(JSON.parse(await this.open(key, MODEL, row.payload)));
    const who = parseAccountId(invite.account);
    if (who === undefined) return undefined;
    const again = async () => ((await this.spentBy(key, interaction)) ? { ...who, again: true } : 'used');
    if (row.consumedAt !== undefined) return again();
    if (invite.expiresAt <= now) return 'expired';
    if (!(await this.records.consume(MODEL, key, now))) return again();
    await this.records.upsert({
      model: SPENT_BY,
      key,
      payload: this.vault.encrypt(this.scope(key, SPENT_BY), hashId(interaction)),
      expiresAt: row.expiresAt,
    });
    return { ...who, again: false };
  }
}

/** The code in what the user pasted: the link the CLI printed, or the code alone. */
export function inviteCodeIn(pasted: string): string | undefined {
  const found = /sbi_[A-Za-z0-9_-]{43}/.exec(pasted)?.[0];
  return found !== undefined && CODE.test(found) ? found : undefined;
}

/** The link the CLI prints: opening it shows how to use it; it is spent on the sign-in page only. */
export function inviteLink(publicUrl: string, code: string): string {
  return `${publicUrl.replace(/\/$/, '')}${INVITE_PATH}#${code}`;
}
