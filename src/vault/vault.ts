import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { HubError, isHubError } from '../errors.js';
import type { DataKeyStore, WrappedDataKey } from './data-keys.js';
import { open, seal } from './envelope.js';
import { MASTER_KEY_ENV, type MasterKey, type MasterKeyRing } from './master-keys.js';

/** Which record a ciphertext belongs to; bound into it as associated data. */
export interface SecretScope {
  tenant: string;
  /** The kind of record, e.g. 'token_set', 'client_secret'. */
  kind: string;
  /** The record's id. */
  id: string;
}

const PREFIX = 'sbv1';

export interface VaultOptions {
  keys: DataKeyStore;
  /**
   * The master keys, or how to load them once the store has said whether it holds data keys: a
   * store without any may generate a key file, one with some must never start on a fresh key.
   */
  ring: MasterKeyRing | ((storeHasDataKeys: boolean) => MasterKeyRing);
  clock: Clock;
  /** Re-reads the master keys, for when another process rotated them (key file). */
  reload?: () => MasterKeyRing;
}

/** A data key this process has not loaded: another process may have created it since `open`. */
class UnknownDataKey extends HubError {}

/**
 * Envelope encryption of secrets: each tenant has a data key, wrapped by the master key; each
 * secret is sealed with its tenant's data key and bound, as associated data, to its tenant,
 * kind and id — so a ciphertext copied onto another row does not decrypt.
 *
 * Every data key is read from the store and unwrapped once, by `open`, and kept in memory:
 * `encrypt` and `decrypt` are synchronous and never wait on the store, so they can run inside a
 * store transaction. The awaited steps come before them: `ensureDataKey` for a tenant's first
 * secret, and `decrypting` for a key another process created after this one opened.
 */
export class Vault {
  private ring: MasterKeyRing | undefined;
  private readonly keys = new Map<string, { tenant: string; key: Buffer }>();
  private readonly activeByTenant = new Map<string, string>();
  /** Keys that did not unwrap when reloaded: a decrypt that needs one says why. */
  private readonly broken = new Map<string, HubError>();
  private opening: Promise<number> | undefined;
  private reloading: Promise<void> | undefined;
  private readonly ensuring = new Map<string, Promise<void>>();

  constructor(private readonly opts: VaultOptions) {}

  /** Loads the master keys and every data key, once; later calls share the first. Resolves to how many data keys were opened. */
  open(): Promise<number> {
    this.opening ??= this.verify();
    return this.opening;
  }

  /**
   * Reads and unwraps every stored data key — not one per master key, since a single damaged row
   * would otherwise surface only when its tenant's secrets are first needed. Fails naming each
   * key that does not unwrap; returns how many were checked.
   */
  async verify(): Promise<number> {
    const rows = await this.opts.keys.all();
    this.ring ??= typeof this.opts.ring === 'function' ? this.opts.ring(rows.length > 0) : this.opts.ring;
    const problems = new Map<string, HubError>();
    const opened: Array<[WrappedDataKey, Buffer]> = [];
    for (const row of rows) {
      try {
        opened.push([row, this.unwrap(row)]);
      } catch (err) {
        if (!isHubError(err)) throw err;
        // One missing master key fails every row it wrapped with the same message: say it once.
        problems.set(err.message, err);
      }
    }
    const failed = [...problems.values()];
    if (failed.length === 1) throw failed[0]!;
    if (failed.length > 1) {
      const dataKeys = failed.map((e) => e.details?.['dataKey']).filter((k) => k !== undefined);
      throw new HubError(failed[0]!.code, `${failed.length} problems with the ${rows.length} stored data keys: ${failed.map((e) => e.message).join('; ')}`, {
        cause: failed[0],
        details: { dataKeys },
      });
    }
    for (const [row, key] of opened) this.remember(row, key);
    return rows.length;
  }

  get activeMasterId(): string {
    return this.loadedRing().active.id;
  }

  /**
   * Makes sure the tenant has a data key loaded, creating it in the store on the tenant's first
   * secret. Await it before `encrypt` for a tenant, outside any store transaction.
   */
  async ensureDataKey(tenant: string): Promise<void> {
    await this.open();
    if (this.activeByTenant.has(tenant)) return;
    let pending = this.ensuring.get(tenant);
    if (pending === undefined) {
      pending = this.createDataKey(tenant).finally(() => this.ensuring.delete(tenant));
      this.ensuring.set(tenant, pending);
    }
    await pending;
  }

  /**
   * Runs `fn`, which decrypts. When it meets a data key this process has not loaded (another
   * process created it after this one opened), the data keys are read again, once, and `fn` runs
   * once more; a key still unknown is then the typed `vault_decrypt_failed`.
   */
  async decrypting<T>(fn: () => T): Promise<T> {
    await this.open();
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof UnknownDataKey)) throw err;
      await this.readNewKeys();
      return fn();
    }
  }

  /** Seals with the tenant's data key, which `ensureDataKey` must have loaded. */
  encrypt(scope: SecretScope, plaintext: string | Buffer): string {
    const id = this.activeByTenant.get(scope.tenant);
    const key = id === undefined ? undefined : this.keys.get(id)?.key;
    if (id === undefined || key === undefined) {
      throw new HubError('internal', `tenant ${scope.tenant} has no data key loaded: ensureDataKey must be awaited before its first secret is sealed`);
    }
    const sealed = seal(key, Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, 'utf8'), aad(scope, id));
    return `${PREFIX}.${id}.${sealed.toString('base64')}`;
  }

  /** Whether a stored value is sealed (a column that once held plaintext tells old rows apart by it). */
  static isSealed(value: string): boolean {
    return value.startsWith(`${PREFIX}.`);
  }

  decrypt(scope: SecretScope, envelope: string): Buffer {
    const [prefix, keyId, body] = envelope.split('.');
    if (prefix !== PREFIX || !keyId || body === undefined) throw this.decryptError(scope, 'not a vault envelope');
    const key = this.dataKey(scope, keyId);
    try {
      return open(key, Buffer.from(body, 'base64'), aad(scope, keyId));
    } catch {
      // Wrong row, wrong tenant, or tampered bytes: GCM cannot tell which, and neither do we.
      throw this.decryptError(scope, 'authentication failed (the value belongs to another record or was altered)');
    }
  }

  decryptString(scope: SecretScope, envelope: string): string {
    return this.decrypt(scope, envelope).toString('utf8');
  }

  /** Re-wraps every data key under the active master key. Data key material is unchanged, so running calls are unaffected. */
  async rewrap(onProgress?: (done: number, total: number) => void): Promise<{ rewrapped: number }> {
    await this.open();
    const active = this.loadedRing().active;
    const stale = (await this.opts.keys.all()).filter((k) => k.masterId !== active.id);
    let done = 0;
    for (const row of stale) {
      const key = this.unwrap(row);
      await this.opts.keys.rewrap(row.id, row.masterId, { masterId: active.id, wrapped: wrap(active, row.tenant, row.id, key) }, this.opts.clock.now());
      done++;
      onProgress?.(done, stale.length);
    }
    return { rewrapped: done };
  }

  /** Master key ids that stored data keys are wrapped with. */
  async masterIdsInUse(): Promise<string[]> {
    return [...new Set((await this.opts.keys.all()).map((k) => k.masterId))];
  }

  useRing(ring: MasterKeyRing): void {
    this.ring = ring;
  }

  private loadedRing(): MasterKeyRing {
    if (this.ring === undefined) throw new HubError('internal', 'the vault is not open yet: the hub opens it when it starts');
    return this.ring;
  }

  private async createDataKey(tenant: string): Promise<void> {
    // The master key may have been rotated by another process since this one started: wrap new
    // data keys with the newest key on file, never with one a rotation is retiring.
    if (this.opts.reload) this.ring = this.opts.reload();
    const ring = this.loadedRing();
    const master = ring.active;
    await this.refuseRetiredMaster(ring);
    const id = `dk_${randomBytes(8).toString('hex')}`;
    const key = randomBytes(32);
    const stored = await this.opts.keys.create({ id, tenant, wrapped: wrap(master, tenant, id, key), masterId: master.id }, this.opts.clock.now());
    // Another process created the tenant's key first: use theirs.
    this.remember(stored, stored.id === id ? key : this.unwrap(stored));
  }

  /**
   * Every stored data key opened with this process's keys when it started (`verify`), so one
   * wrapped under a master key it was not given shows that the store was rotated since (`keys
   * rotate`): its active key is one the rotation retired. A data key wrapped under it would not
   * open once the old key is dropped, so none is. Keys from the environment are fixed for the
   * process, and only a restart with the new key helps; a key file was re-read just before.
   */
  private async refuseRetiredMaster(ring: MasterKeyRing): Promise<void> {
    const known = new Set(ring.keys.map((k) => k.id));
    const newer = (await this.opts.keys.all()).find((k) => !known.has(k.masterId));
    if (newer === undefined) return;
    const restart = ring.source === 'env' ? `${MASTER_KEY_ENV} set to the new key` : `the new key in ${ring.file ?? 'the master key file'}`;
    throw new HubError(
      'vault_key_missing',
      `the master key was rotated: stored data keys are wrapped under master key ${newer.masterId}, which this hub was not given (it has ${[...known].join(', ')}); ` +
        `no data key is created under the retired key ${ring.active.id}. Restart the hub with ${restart}`,
    );
  }

  /** Reads the keys this process does not have yet; concurrent callers share one read. */
  private readNewKeys(): Promise<void> {
    this.reloading ??= (async () => {
      for (const row of await this.opts.keys.all()) {
        if (this.keys.has(row.id)) continue;
        try {
          this.remember(row, this.unwrap(row));
        } catch (err) {
          if (!isHubError(err)) throw err;
          this.broken.set(row.id, err);
        }
      }
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private remember(row: WrappedDataKey, key: Buffer): void {
    this.keys.set(row.id, { tenant: row.tenant, key });
    if (row.state === 'active') this.activeByTenant.set(row.tenant, row.id);
    this.broken.delete(row.id);
  }

  private dataKey(scope: SecretScope, id: string): Buffer {
    const known = this.keys.get(id);
    if (known !== undefined && known.tenant === scope.tenant) return known.key;
    const why = `no data key ${id} for this tenant`;
    if (known !== undefined) throw this.decryptError(scope, why);
    const broken = this.broken.get(id);
    if (broken !== undefined) throw broken;
    throw new UnknownDataKey('vault_decrypt_failed', `cannot decrypt ${scope.kind} ${scope.id}: ${why}`, {
      details: { tenant: scope.tenant, kind: scope.kind, id: scope.id },
    });
  }

  private unwrap(row: WrappedDataKey): Buffer {
    let ring = this.loadedRing();
    let master = ring.keys.find((k) => k.id === row.masterId);
    if (!master && this.opts.reload) {
      ring = this.ring = this.opts.reload();
      master = ring.keys.find((k) => k.id === row.masterId);
    }
    if (!master) {
      throw new HubError(
        'vault_key_missing',
        `stored secrets are encrypted under master key ${row.masterId}, which is not available (have: ${ring.keys.map((k) => k.id).join(', ')}); ` +
          `set SWITCHBOARD_MASTER_KEY to the right key or restore ${ring.file ?? 'the master key file'}`,
      );
    }
    try {
      return open(master.key, row.wrapped, wrapAad(row.tenant, row.id));
    } catch (err) {
      // The master key is the right one (its id is derived from it), so the row itself was altered.
      throw new HubError(
        'vault_decrypt_failed',
        `data key ${row.id} of tenant ${row.tenant} does not unwrap with master key ${master.id}: its row in the database was altered or damaged`,
        { cause: err, details: { dataKey: row.id, tenant: row.tenant } },
      );
    }
  }

  private decryptError(scope: SecretScope, why: string): HubError {
    return new HubError('vault_decrypt_failed', `cannot decrypt ${scope.kind} ${scope.id}: ${why}`, {
      details: { tenant: scope.tenant, kind: scope.kind, id: scope.id },
    });
  }
}

function wrap(master: MasterKey, tenant: string, dataKeyId: string, key: Buffer): Buffer {
  return seal(master.key, key, wrapAad(tenant, dataKeyId));
}

function wrapAad(tenant: string, dataKeyId: string): Buffer {
  return Buffer.from(`switchboard data key\0${tenant}\0${dataKeyId}`);
}

function aad(scope: SecretScope, dataKeyId: string): Buffer {
  return Buffer.from(`switchboard secret\0${scope.tenant}\0${scope.kind}\0${scope.id}\0${dataKeyId}`);
}
