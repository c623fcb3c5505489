import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { HubError } from '../errors.js';

/**
 * The hub key cursors are sealed with: kept in the store (HubKeys), so every process and replica
 * on one store seals alike and a cursor one of them handed out is read by all.
 */
export const EVENT_CURSOR_KEY = 'event_cursor_key';

/** Whose events a cursor walks: it is read for these only. */
export interface CursorOwner {
  tenant: string;
  user: string;
  integration: string;
}

const VERSION = 'c1.';
/** One AES block in base64url: 16 bytes are 22 characters. */
const SEALED = /^c1\.[A-Za-z0-9_-]{22}$/;
/** The repositories' own cursor (reads.ts): the inbox row's insertion order in base 36. */
const RAW = /^e[0-9a-z]{1,12}$/;
const REFUSED = 'after: not a cursor from recent_events (pass the next_cursor of an earlier answer)';

/**
 * Seals the repositories' cursors before a client sees them. A raw cursor is the inbox's global
 * insertion order, which counts every user's events: two of them would tell a user how many
 * events others received in between, and one guessed would be read. A sealed cursor is one AES
 * block, [8 bytes seq][8 bytes binding], the binding an HMAC of (tenant, user, integration):
 * encrypted, it shows nothing of seq; opened by another owner, or altered, its binding fails.
 * Deterministic on purpose: the same position gives the same cursor, so an answer with nothing new
 * hands back the cursor it was given. ECB is sound here because the plaintext is a single block.
 */
export class EventCursors {
  private derived: { key: Buffer; encrypt: Buffer; bind: Buffer } | undefined;

  /** `key` is read on use: the hub loads its keys after this object is built. */
  constructor(private readonly key: () => Buffer) {}

  /** The cursor a client is given for the repository's `raw` one. */
  seal(raw: string, owner: CursorOwner): string {
    if (!RAW.test(raw)) throw new HubError('internal', 'an event cursor to seal is not one the repositories make');
    const block = Buffer.alloc(16);
    block.writeBigUInt64BE(BigInt(Number.parseInt(raw.slice(1), 36)), 0);
    this.binding(owner).copy(block, 8);
    const cipher = createCipheriv('aes-256-ecb', this.keys().encrypt, null).setAutoPadding(false);
    return VERSION + Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
  }

  /**
   * The repository's cursor for one a client passed as `after`, refused (invalid_params) unless
   * this hub sealed it for this owner. A raw cursor, one handed out before cursors were sealed
   * too, is refused: which of a user's events come after a guessed position finds, by halving,
   * each event's place in everyone's order, new ones too. A client holding one reads without `after`.
   */
  open(cursor: string, owner: CursorOwner): string {
    if (!SEALED.test(cursor)) throw new HubError('invalid_params', REFUSED);
    const bytes = Buffer.from(cursor.slice(VERSION.length), 'base64url');
    // base64url's last character carries 2 spare bits: only the one spelling this hub makes is read.
    if (bytes.toString('base64url') !== cursor.slice(VERSION.length)) throw new HubError('invalid_params', REFUSED);
    const decipher = createDecipheriv('aes-256-ecb', this.keys().encrypt, null).setAutoPadding(false);
    const block = Buffer.concat([decipher.update(bytes), decipher.final()]);
    if (!timingSafeEqual(block.subarray(8), this.binding(owner))) throw new HubError('invalid_params', REFUSED);
    const seq = block.readBigUInt64BE(0);
    // Only a cursor this hub sealed gets here, and it sealed a safe integer; anything else is refused as forged.
    if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new HubError('invalid_params', REFUSED);
    return `e${seq.toString(36)}`;
  }

  /** 8 bytes of HMAC over the owner, each part length-prefixed so no two owners write alike. */
  private binding(owner: CursorOwner): Buffer {
    const mac = createHmac('sha256', this.keys().bind);
    for (const part of [owner.tenant, owner.user, owner.integration]) {
      const bytes = Buffer.from(part, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      mac.update(length).update(bytes);
    }
    return mac.digest().subarray(0, 8);
  }

  /** One sub-key per use, derived with fixed labels, so the stored key is never used twice. */
  private keys(): { encrypt: Buffer; bind: Buffer } {
    const key = this.key();
    if (this.derived?.key !== key) {
      const sub = (label: string) => createHmac('sha256', key).update(label).digest();
      this.derived = { key, encrypt: sub('switchboard event cursor v1 encrypt'), bind: sub('switchboard event cursor v1 bind') };
    }
    return this.derived;
  }
}
