import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { makeDir } from '../make-dir.js';
import { dirname, join } from 'node:path';
import { HubError } from '../errors.js';

export const MASTER_KEY_ENV = 'SWITCHBOARD_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';

export interface MasterKey {
  /** Derived from the key itself, so a wrong key can never pass for the right one. */
  id: string;
  key: Buffer;
}

export interface MasterKeyRing {
  /** The key new data keys are wrapped with. */
  active: MasterKey;
  /** Every key that can unwrap: the active one first, then older ones kept for rotation. */
  keys: MasterKey[];
  source: 'env' | 'file';
  /** The key file, when keys come from one. */
  file?: string;
  /** True when this call created the key file. */
  generated: boolean;
}

export function masterKeyId(key: Buffer): string {
  return `mk_${createHash('sha256').update('switchboard master key id\0').update(key).digest('hex').slice(0, 16)}`;
}

function parseKey(text: string, where: string): MasterKey {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== text.trim().replace(/=+$/, '')) {
    throw new HubError('vault_key_missing', `${where}: a master key must be 32 bytes in base64 (44 characters)`);
  }
  return { id: masterKeyId(key), key };
}

/**
 * Loads the master keys: from SWITCHBOARD_MASTER_KEY (base64; several comma-separated, newest
 * first, while rotating), else from `<dataDir>/master.key` (one base64 key a line, newest first),
 * generating that file with mode 0600 when it does not exist and `mayGenerate` is set.
 */
export function loadMasterKeys(opts: { env: NodeJS.ProcessEnv; dataDir: string; mayGenerate: boolean }): MasterKeyRing {
  const fromEnv = opts.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const keys = fromEnv.split(',').map((k, i) => parseKey(k, `${MASTER_KEY_ENV} (key ${i + 1})`));
    return { active: keys[0]!, keys, source: 'env', generated: false };
  }
  const file = join(opts.dataDir, MASTER_KEY_FILE);
  if (existsSync(file)) return { ...readKeyFile(file), generated: false };
  if (!opts.mayGenerate) throw new HubError('vault_key_missing', `no master key: set ${MASTER_KEY_ENV} or restore ${file}`);
  const key = randomBytes(32);
  if (!createKeyFileExclusive(file, key)) {
    // Another process starting on the same data dir created it first: use theirs.
    return { ...readKeyFile(file), generated: false };
  }
  const mk = { id: masterKeyId(key), key };
  return { active: mk, keys: [mk], source: 'file', file, generated: true };
}

export function readKeyFile(file: string): Omit<MasterKeyRing, 'generated'> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // A directory or a file this user may not read, named: the bare `EISDIR: …, read` names neither.
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new HubError('vault_key_missing', `cannot read the master key file ${file} (${code}): it must be a file this user can read`, { cause: err });
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new HubError('vault_key_missing', `${file} holds no master key`);
  const keys = lines.map((l, i) => parseKey(l, `${file} line ${i + 1}`));
  return { active: keys[0]!, keys, source: 'file', file };
}

/** Creates the key file only if none exists (link(2) fails on an existing name); false when one did. */
function createKeyFileExclusive(file: string, key: Buffer): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  makeDir(dirname(file));
  writeFileSync(tmp, keyFileBody([key]), { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function keyFileBody(keys: Buffer[]): string {
  return `# Switchboard master keys, newest first. Losing this file loses every stored secret.\n${keys.map((k) => k.toString('base64')).join('\n')}\n`;
}

/** Writes atomically (temp file + rename) with mode 0600: a torn key file would lose every secret. */
export function writeKeyFile(file: string, keys: Buffer[]): void {
  makeDir(dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, keyFileBody(keys), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** A one-off key for an in-memory store (tests): nothing outlives the process, so nothing is written. */
export function ephemeralRing(): MasterKeyRing {
  const key = randomBytes(32);
  const mk = { id: masterKeyId(key), key };
  return { active: mk, keys: [mk], source: 'env', generated: true };
}
