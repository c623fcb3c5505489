const RESERVED_PREFIX = 'io.modelcontextprotocol/';

/**
 * The protocol's own `_meta` keys (`io.modelcontextprotocol/serverInfo`, …) describe the hop a
 * result came over, a downstream server's; the hub's faces stamp their own. Left in, a client would
 * be told of a server it never connected to, and, on 2025-11-25, of keys from an era it did not
 * negotiate. Every result a client gets from a source goes through here: tool results (the
 * downstream call path), prompts, resource reads and completions (dispatch.ts).
 */
export function withoutReservedMeta<T extends { _meta?: Record<string, unknown> | undefined }>(result: T): T {
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
  return (keptAny ? { ...rest, _meta: kept } : rest) as T;
}
