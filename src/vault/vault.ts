import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError, isHubError } from '../errors.js';
import type { Db } from '../store/db.js';
import { open, seal } from './envelope.js';
import type { MasterKey, MasterKeyRing } from './master-keys.js';

/** Which record a ciphertext belongs to; bound into it as associated data. */
export interface SecretScope {
  tenant: string;
  /** The kind of record, e.g. 'token_set', 'client_secret'. */
  kind: string;
  /** The record's id. */
  id: string;
}

const PREFIX = 'sbv1';

const dataKeyRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  wrapped: z.instanceof(Buffer),
  master_id: z.string(),
  state: z.enum(['active', 'retired']),
});
type DataKeyRow = z.infer<typeof dataKeyRow>;

export interface VaultOptions {
  db: Db;
  ring: MasterKeyRing;
  clock: Clock;
  /** Re-reads the master keys, for when another process rotated them (key file). */
  reload?: () => MasterKeyRing;
}

/**
 * Envelope encryption of secrets: each tenant has a data key, wrapped by the master key; each
 * secret is sealed with its tenant's data key and bound, as associated data, to its tenant,
 * kind and id — so a ciphertext copied onto another row does not decrypt.
 */
export class Vault {
  private ring: MasterKeyRing;
  private readonly keys = new Map<string, Buffer>();
  private readonly activeByTenant = new Map<string, string>();

  constructor(private readonly opts: VaultOptions) {
    this.ring = opts.ring;
  }

  /**
   * Opens every stored data key — not one per master key, since a single damaged row would
   * otherwise surface only when its tenant's secrets are first needed. Fails naming each key that
   * does not open; returns how many were checked.
   */
  verify(): number {
    const rows = this.opts.db.prepare('SELECT * FROM vault_data_keys ORDER BY tenant_id, id').all();
    const problems = new Map<string, HubError>();
    for (const raw of rows) {
      try {
        this.unwrap(parseDataKey(raw));
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
    return rows.length;
  }

  get activeMasterId(): string {
    return this.ring.active.id;
  }

  encrypt(scope: SecretScope, plaintext: string | Buffer): string {
    const { id, key } = this.activeDataKey(scope.tenant);
    const sealed = seal(key, Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, 'utf8'), aad(scope, id));
    return `${PREFIX}.${id}.${sealed.toString('base64')}`;
  }

  decrypt(scope: SecretScope, envelope: string): Buffer {
    const [prefix, keyId, body] = envelope.split('.');
    if (prefix !== PREFIX || !keyId || body === undefined) throw this.decryptError(scope, 'not a vault envelope');
    const key = this.dataKey(scope.tenant, keyId);
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
  rewrap(onProgress?: (done: number, total: number) => void): { rewrapped: number } {
    const db = this.opts.db;
    const stale = db.prepare('SELECT * FROM vault_data_keys WHERE master_id <> ?').all(this.ring.active.id).map(parseDataKey);
    const update = db.prepare('UPDATE vault_data_keys SET wrapped = @wrapped, master_id = @master, rewrapped_at = @now WHERE id = @id AND master_id = @from');
    let done = 0;
    for (const row of stale) {
      const key = this.unwrap(row);
      db.transaction(() => {
        update.run({
          id: row.id,
          from: row.master_id,
          master: this.ring.active.id,
          wrapped: wrap(this.ring.active, row.tenant_id, row.id, key),
          now: this.opts.clock.now(),
        });
      })();
      done++;
      onProgress?.(done, stale.length);
    }
    return { rewrapped: done };
  }

  /** Master key ids that stored data keys are wrapped with. */
  masterIdsInUse(): string[] {
    return this.opts.db.prepare('SELECT DISTINCT master_id FROM vault_data_keys').pluck().all() as string[];
  }

  useRing(ring: MasterKeyRing): void {
    this.ring = ring;
  }

  private activeDataKey(tenant: string): { id: string; key: Buffer } {
    const cached = this.activeByTenant.get(tenant);
    if (cached) return { id: cached, key: this.keys.get(cached)! };
    const db = this.opts.db;
    const select = db.prepare("SELECT * FROM vault_data_keys WHERE tenant_id = ? AND state = 'active'");
    let row = select.get(tenant);
    if (row === undefined) {
      // The master key may have been rotated by another process since this one started: wrap
      // new data keys with the newest key on file, never with one a rotation is retiring.
      if (this.opts.reload) this.ring = this.opts.reload();
      const id = `dk_${randomBytes(8).toString('hex')}`;
      const key = randomBytes(32);
      // Another process may create the tenant's key at the same moment; the partial unique index lets one win.
      db.prepare(
        `INSERT INTO vault_data_keys (id, tenant_id, wrapped, master_id, state, created_at)
         VALUES (@id, @tenant, @wrapped, @master, 'active', @now) ON CONFLICT DO NOTHING`,
      ).run({ id, tenant, wrapped: wrap(this.ring.active, tenant, id, key), master: this.ring.active.id, now: this.opts.clock.now() });
      row = select.get(tenant);
    }
    const parsed = parseDataKey(row);
    const key = this.unwrap(parsed);
    this.activeByTenant.set(tenant, parsed.id);
    return { id: parsed.id, key };
  }

  private dataKey(tenant: string, id: string): Buffer {
    const cached = this.keys.get(id);
    if (cached) return cached;
    const row = this.opts.db.prepare('SELECT * FROM vault_data_keys WHERE id = ? AND tenant_id = ?').get(id, tenant);
    if (row === undefined) throw this.decryptError({ tenant, kind: 'data_key', id }, `no data key ${id} for this tenant`);
    return this.unwrap(parseDataKey(row));
  }

  private unwrap(row: DataKeyRow): Buffer {
    const cached = this.keys.get(row.id);
    if (cached) return cached;
    let master = this.ring.keys.find((k) => k.id === row.master_id);
    if (!master && this.opts.reload) {
      this.ring = this.opts.reload();
      master = this.ring.keys.find((k) => k.id === row.master_id);
    }
    if (!master) {
      throw new HubError(
        'vault_key_missing',
        `stored secrets are encrypted under master key ${row.master_id}, which is not available (have: ${this.ring.keys.map((k) => k.id).join(', ')}); ` +
          `set SWITCHBOARD_MASTER_KEY to the right key or restore ${this.ring.file ?? 'the master key file'}`,
      );
    }
    let key: Buffer;
    try {
      key = open(master.key, row.wrapped, wrapAad(row.tenant_id, row.id));
    } catch (err) {
      // The master key is the right one (its id is derived from it), so the row itself was altered.
      throw new HubError(
        'vault_decrypt_failed',
        `data key ${row.id} of tenant ${row.tenant_id} does not unwrap with master key ${master.id}: its row in the database was altered or damaged`,
        {
          cause: err,
          details: { dataKey: row.id, tenant: row.tenant_id },
        },
      );
    }
    this.keys.set(row.id, key);
    return key;
  }

  private decryptError(scope: SecretScope, why: string): HubError {
    return new HubError('vault_decrypt_failed', `cannot decrypt ${scope.kind} ${scope.id}: ${why}`, {
      details: { tenant: scope.tenant, kind: scope.kind, id: scope.id },
    });
  }
}

/** A data key row, or a typed error naming it when the row does not have the shape the vault wrote. */
function parseDataKey(raw: unknown): DataKeyRow {
  const r = dataKeyRow.safeParse(raw);
  if (r.success) return r.data;
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? String(raw.id) : 'unknown';
  throw new HubError('vault_decrypt_failed', `data key ${id} cannot be read: its row in the database was altered or damaged`, { details: { dataKey: id } });
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
