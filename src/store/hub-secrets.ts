import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import type { Vault } from '../vault/vault.js';
import type { Db } from './db.js';

const HUB_TENANT = '_hub';

/** Named hub secrets behind a Promise-based interface, so another store (PostgreSQL) can keep them. */
export interface SecretStore {
  /** The secret called `name`, created on first use; two processes creating it at once agree on one. */
  secret(name: string, bytes?: number): Promise<Buffer>;
}

/**
 * Named random secrets the hub itself needs (link signing key, hosted providers' client secrets),
 * sealed by the vault, in SQLite. better-sqlite3 answers synchronously; callers await anyway.
 */
export class HubSecrets implements SecretStore {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly clock: Clock,
  ) {}

  async secret(name: string, bytes = 32): Promise<Buffer> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const scope = { tenant: HUB_TENANT, kind: 'hub_secret', id: name };
    const select = this.db.prepare('SELECT value FROM hub_secrets WHERE name = ?').pluck();
    let sealed = select.get(name) as string | undefined;
    if (sealed === undefined) {
      await this.vault.ensureDataKey(HUB_TENANT);
      const value = this.vault.encrypt(scope, randomBytes(bytes));
      this.db.prepare('INSERT INTO hub_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, value, this.clock.now());
      sealed = select.get(name) as string;
    }
    const found = sealed;
    const secret = await this.vault.decrypting(() => this.vault.decrypt(scope, found));
    this.cache.set(name, secret);
    return secret;
  }
}

/**
 * The hub secrets that requests read (link signing, request-state signing, hosted providers'
 * client secrets): loaded from the store once, at start, and then read from memory, so no request
 * waits on the store for a key. Reading one before `load` resolved is a bug in the start order.
 */
export class HubKeys {
  private readonly values = new Map<string, Buffer>();
  private loading: Promise<void> | undefined;

  constructor(
    private readonly store: SecretStore,
    readonly names: readonly string[],
  ) {}

  /** Keys loaded from `store`, for code that can await before it builds what needs them. */
  static async open(store: SecretStore, names: readonly string[]): Promise<HubKeys> {
    const keys = new HubKeys(store, names);
    await keys.load();
    return keys;
  }

  /** Reads every named key once; later calls share the first read. */
  load(): Promise<void> {
    this.loading ??= Promise.all(this.names.map(async (n) => this.values.set(n, await this.store.secret(n)))).then(() => undefined);
    return this.loading;
  }

  get(name: string): Buffer {
    const v = this.values.get(name);
    if (v) return v;
    const why = this.names.includes(name) ? 'is not loaded yet: the hub reads its keys when it starts' : 'is not one of the keys the hub loads';
    throw new HubError('internal', `hub key ${name} ${why}`);
  }
}
