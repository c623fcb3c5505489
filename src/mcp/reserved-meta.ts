import type { CallToolResult } from '@modelcontextprotocol/client';

const RESERVED_PREFIX = 'io.modelcontextprotocol/';

/** The protocol's own `_meta` keys describe the downstream hop; the hub's faces stamp their own. */
export function withoutReservedMeta(result: CallToolResult): CallToolResult {
  const meta = result._meta;
  if (!meta) return result;
  // A loop, not entries/filter/fromEntries: this runs once per proxied call.
  const kept: Record<string, unknown> = {};
  let keptAny = false;
  let dropped = false;
  for (const k of Object.keys(meta)) {
    if (k.startsWith(RESERVED_PREFIX)) {
      dropped = true;
      continue;
    }
    keptAny = true;
    // A `__proto__` key from the wire stays a key, as Object.fromEntries keeps it.
    if (k === '__proto__') Object.defineProperty(kept, k, { value: meta[k], enumerable: true, writable: true, configurable: true });
    else kept[k] = meta[k];
  }
  if (!dropped) return result;
  const { _meta: _drop, ...rest } = result;
  return keptAny ? { ...rest, _meta: kept } : rest;
}
