import { type Adapter, errors } from 'oidc-provider';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Vault } from '../vault/vault.js';
import type { AsRecords, StoredAsRecord } from './records.js';
import { stored } from './store-unavailable.js';

import { HUB_TENANT, hashId } from './ids.js';

export { HUB_TENANT, hashId };

/**
 * A client registered through DCR (RFC 7591) that no request has named for this long is
 * forgotten. Its refresh tokens live 14 days (see provider.ts), so a client in use touches its
 * record well within the window.
 */
export const CLIENT_IDLE_MS = 30 * 86_400_000;
/** A used client's expiry is written at most this often: a token request must not always write. */
const CLIENT_TOUCH_MS = 3_600_000;
/** Expired rows are swept at most this often, by the writes that add rows. */
const PURGE_EVERY_MS = 3_600_000;

export interface AdapterDeps {
  records: AsRecords;
  vault: Vault;
  clock: Clock;
}

const payloadSchema = z.record(z.string(), z.unknown());

/**
 * oidc-provider's storage on the hub's store. Ids of codes and tokens are the secrets themselves,
 * so rows are keyed by their hash; payloads (which hold the id as `jti`, client secrets, accounts)
 * are sealed by the vault, bound to their row. Expiry of tokens is the library's (`exp` inside
 * the payload); the row's expiry, on the hub's clock, drives the sweep and a registered client's
 * idle lifetime.
 */
export function hubAdapter(deps: AdapterDeps): new (model: string) => Adapter {
  const { records, vault, clock } = deps;
  let lastPurge = Number.NEGATIVE_INFINITY;
  // Loaded by the first write; a failure (the store away) is tried again by the next one, not kept.
  let ready: Promise<void> | undefined;
  const dataKey = () =>
    (ready ??= vault.ensureDataKey(HUB_TENANT).catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));

  const scope = (model: string, key: string) => ({ tenant: HUB_TENANT, kind: 'oauth_as', id: `${model}:${key}` });

  async function open(row: StoredAsRecord | undefined): Promise<Record<string, unknown> | undefined> {
    if (row === undefined) return undefined;
    const json = await vault.decrypting(() => vault.decryptString(scope(row.model, row.key), row.payload));
    const payload = payloadSchema.parse(JSON.parse(json));
    // The library tells a spent code or refresh token by this field (reuse detection).
    return row.consumedAt === undefined ? payload : { ...payload, consumed: Math.floor(row.consumedAt / 1000) };
  }

  return class HubAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      await stored(dataKey);
      const now = clock.now();
      const key = hashId(id);
      const expiresAt = typeof expiresIn === 'number' ? now + expiresIn * 1000 : this.model === 'Client' ? now + CLIENT_IDLE_MS : undefined;
      const grantId = typeof payload['grantId'] === 'string' ? payload['grantId'] : this.model === 'Grant' ? id : undefined;
      const uid = typeof payload['uid'] === 'string' && this.model === 'Session' ? hashId(payload['uid']) : undefined;
      // A public client's secret is never asked for (see withoutUnusableSecret): none is kept.
      const kept = this.model === 'Client' && payload['token_endpoint_auth_method'] === 'none' ? withoutSecret(payload) : payload;
      const sealed = vault.encrypt(scope(this.model, key), JSON.stringify(kept));
      await stored(() => records.upsert({ model: this.model, key, payload: sealed, grantId, uidKey: uid, expiresAt }));
      if (now - lastPurge >= PURGE_EVERY_MS) {
        lastPurge = now;
        await stored(() => records.purgeExpired(now));
      }
    }

    async find(id: string): Promise<Record<string, unknown> | undefined> {
      const key = hashId(id);
      const row = await stored(() => records.find(this.model, key));
      if (row === undefined) return undefined;
      if (this.model === 'Client' && row.expiresAt !== undefined) {
        // An idle registration is gone even before the sweep; a used one lives on.
        const now = clock.now();
        if (row.expiresAt <= now) return undefined;
        if (now + CLIENT_IDLE_MS - row.expiresAt >= CLIENT_TOUCH_MS) await stored(() => records.extend(this.model, key, now + CLIENT_IDLE_MS));
      }
      return open(row);
    }

    async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      return open(await stored(() => records.findByUid(this.model, hashId(uid))));
    }

    async findByUserCode(): Promise<undefined> {
      // The device flow is not enabled: there are no user codes.
      return undefined;
    }

    async consume(id: string): Promise<void> {
      const key = hashId(id);
      if (await stored(() => records.consume(this.model, key, clock.now()))) return;
      // The library read it unspent, but another request (or process) spent it since: that is
      // reuse too, so the grant ends as the library would end it (RFC 9700 §4.14.2).
      const grantId = (await stored(() => records.find(this.model, key)))?.grantId;
      if (grantId !== undefined) await stored(() => records.revokeGrant(grantId));
      throw new errors['InvalidGrant']!(`${this.model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`);
    }

    async destroy(id: string): Promise<void> {
      await stored(() => records.destroy(this.model, hashId(id)));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await stored(() => records.revokeGrant(grantId));
    }
  };
}

function withoutSecret(payload: Record<string, unknown>): Record<string, unknown> {
  const { client_secret: _secret, client_secret_expires_at: _expires, ...rest } = payload;
  return rest;
}
