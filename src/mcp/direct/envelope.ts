import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  type LoggingLevel,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isPlainRecord } from '../../is-record.js';
import { LOGGING_LEVELS } from '../server.js';
import { isProgressToken, progressToken } from './call-shape.js';

export const MODERN = '2026-07-28';
const RESERVED_META = 'io.modelcontextprotocol/';

/**
 * A 2026-07-28 request's `_meta` envelope, complete and well formed. Stricter than the SDK's check
 * on purpose: what this refuses goes the SDK's way and gets the SDK's 400.
 */
export const envelopeSchema = z.looseObject({
  progressToken,
  [PROTOCOL_VERSION_META_KEY]: z.literal(MODERN),
  [CLIENT_INFO_META_KEY]: z.looseObject({ name: z.string(), version: z.string() }),
  [CLIENT_CAPABILITIES_META_KEY]: z.record(z.string(), z.looseObject({})),
  [LOG_LEVEL_META_KEY]: z.enum(LOGGING_LEVELS as [LoggingLevel, ...LoggingLevel[]]).optional(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** Envelope keys the direct path knows; another reserved key sends the request the SDK's way. */
const KNOWN_RESERVED: ReadonlySet<string> = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY]);
const LEVELS: ReadonlySet<unknown> = new Set(LOGGING_LEVELS);

/**
 * `envelopeSchema` checked by hand for the envelope clients send: an envelope it returns (the
 * object itself), the schema accepts with the same values; what it is not sure of goes to the
 * schema. Its zod parse on every 2026-07-28 call was ~2 % of the hub's CPU per proxied call.
 */
function byHand(meta: unknown): Envelope | undefined {
  if (!isPlainRecord(meta) || meta[PROTOCOL_VERSION_META_KEY] !== MODERN) return undefined;
  if (!isProgressToken(meta['progressToken'])) return undefined;
  const info = meta[CLIENT_INFO_META_KEY];
  if (!isPlainRecord(info) || typeof info['name'] !== 'string' || typeof info['version'] !== 'string') return undefined;
  const caps = meta[CLIENT_CAPABILITIES_META_KEY];
  if (!isPlainRecord(caps)) return undefined;
  for (const key in caps) if (!isPlainRecord(caps[key])) return undefined;
  const level = meta[LOG_LEVEL_META_KEY];
  if (level !== undefined && !LEVELS.has(level)) return undefined;
  return meta as Envelope;
}

/** The envelope of a request the direct path may serve: complete, well formed, and with no reserved key it does not know. */
export function directEnvelopeOf(meta: unknown): Envelope | undefined {
  const e = byHand(meta) ?? envelopeSchema.safeParse(meta).data;
  if (e === undefined) return undefined;
  for (const k in e) if (k.startsWith(RESERVED_META) && !KNOWN_RESERVED.has(k)) return undefined;
  return e;
}

/** The caller's own `_meta` keys, the envelope's reserved ones left out. */
export function withoutReserved(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in meta) if (!k.startsWith(RESERVED_META)) out[k] = meta[k];
  return out;
}
