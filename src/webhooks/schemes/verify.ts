import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { DEFAULT_TOLERANCE_SECONDS, type WebhookScheme } from '../../definition/webhooks.js';
import { type HeaderReader, SCHEMES, type SchemeSpec } from './table.js';

/** Why a delivery was refused; each is a row of ERROR_SPECS (HTTP 401). */
export type RejectionCode = 'missing_header' | 'bad_signature' | 'bad_timestamp' | 'stale_timestamp';

export type Verdict =
  /** `secretIndex` points into `secrets`; `timestamp` (seconds) is there when the scheme signs one. */
  { ok: true; secretIndex: number; timestamp?: number } | { ok: false; code: RejectionCode; message: string };

export interface DeliveryToVerify {
  scheme: WebhookScheme;
  /** The request body exactly as received: a parsed and re-serialized body never verifies. */
  body: Buffer;
  /** As Node gives them (IncomingMessage.headers): names lowercased, values trimmed. */
  headers: IncomingHttpHeaders;
  /** Every secret that may have signed it: the integration's, then any of the connection's. */
  secrets: readonly string[];
  /** Milliseconds since the epoch, from the hub's clock. */
  now: number;
  toleranceSeconds?: number;
}

const HEX_MAC = /^[0-9a-f]{64}$/;
const BASE64_MAC = /^[A-Za-z0-9+/]{43}=$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SECONDS = /^[0-9]+$/;
// Node decodes header bytes as latin1; anything above U+00FF cannot have come off the wire.
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

function headerReader(headers: IncomingHttpHeaders): HeaderReader {
  return (name) => {
    const raw = headers[name];
    // Node joins repeated fields with ", " (set-cookie aside); an array is read the same way.
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
}

/**
 * A candidate signature as the 32 bytes of an HMAC-SHA256, or undefined when it is not one in
 * the scheme's canonical encoding. Lowercase hex only, and base64 only in the spelling that
 * re-encodes to itself: the last base64 character has two spare bits, and accepting every
 * spelling would accept a changed header as the same signature.
 */
function decodeMac(signature: string, encoding: SchemeSpec['encoding']): Buffer | undefined {
  if (encoding === 'hex') return HEX_MAC.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  if (!BASE64_MAC.test(signature)) return undefined;
  const bytes = Buffer.from(signature, 'base64');
  return bytes.toString('base64') === signature ? bytes : undefined;
}

/** The HMAC key a configured secret stands for; undefined when the secret cannot be one. */
function keyOf(secret: string, kind: SchemeSpec['key']): Buffer | undefined {
  if (secret === '') return undefined;
  if (kind === 'utf8') return Buffer.from(secret, 'utf8');
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!BASE64.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64');
  // Node's decoder drops a trailing partial character: `…Sw` and `…Swx` would be one key. Only a
  // spelling that re-encodes to itself (padding optional) is taken as a key.
  const canonical = key.toString('base64').replace(/=+$/, '') === encoded.replace(/=+$/, '');
  return canonical && key.length > 0 ? key : undefined;
}

function reject(code: RejectionCode, message: string): Verdict {
  return { ok: false, code, message };
}

/**
 * Checks one delivery against every active secret. Pure: no I/O, no clock but `now`, and no
 * throw for any input — a malformed header is a rejection with a stable code. The signature is
 * checked before the timestamp window, so `stale_timestamp` only ever describes a delivery the
 * provider really signed (a replay or a skewed clock), never a forgery.
 */
export function verifyDelivery(input: DeliveryToVerify): Verdict {
  const spec: SchemeSpec = SCHEMES[input.scheme];
  const parts = spec.read(headerReader(input.headers));
  if ('code' in parts) return reject(parts.code, parts.message);
  if (parts.timestamp !== undefined && !SECONDS.test(parts.timestamp)) return reject('bad_timestamp', 'the timestamp is not a number of seconds');
  if (BEYOND_LATIN1.test(parts.prefix)) return reject('bad_signature', 'a signed header holds characters no HTTP header can carry');

  const candidates = parts.signatures.map((s) => decodeMac(s, spec.encoding));
  if (candidates.length === 0) return reject('bad_signature', 'the signature header holds no signature of this scheme');
  // One malformed entry spoils the header: no provider sends one, and skipping it would accept a
  // header with anything glued to a genuine signature.
  if (candidates.some((c) => c === undefined)) return reject('bad_signature', `a signature is not a ${spec.encoding}-encoded HMAC-SHA256`);

  const prefix = Buffer.from(parts.prefix, 'latin1');
  let secretIndex = -1;
  // Every secret against every candidate, without stopping at a match: how long this takes
  // says nothing about which secret or candidate matched.
  input.secrets.forEach((secret, i) => {
    const key = keyOf(secret, spec.key);
    if (key === undefined) return;
    const expected = createHmac('sha256', key).update(prefix).update(input.body).digest();
    for (const candidate of candidates as Buffer[]) {
      // timingSafeEqual throws on unequal lengths: a 500 instead of a 401.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected) && secretIndex < 0) secretIndex = i;
    }
  });
  if (secretIndex < 0) {
    return reject('bad_signature', input.secrets.length === 0 ? 'no webhook secret is configured to verify with' : 'no signature matches an active secret');
  }
  if (parts.timestamp === undefined) return { ok: true, secretIndex };

  const timestamp = Number(parts.timestamp);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const skew = Math.floor(input.now / 1000) - timestamp;
  // Both directions: a timestamp far ahead would stay "fresh" long after it was captured.
  if (skew > tolerance) return reject('stale_timestamp', `the delivery was signed more than ${tolerance} s ago`);
  if (-skew > tolerance) return reject('stale_timestamp', `the delivery is signed more than ${tolerance} s ahead of this hub's clock`);
  return { ok: true, secretIndex, timestamp };
}
