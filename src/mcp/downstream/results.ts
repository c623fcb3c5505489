import type { CallToolResult } from '@modelcontextprotocol/client';

/** The protocol's own `_meta` keys describe the downstream hop; the hub's faces stamp their own. */
export function withoutReservedMeta(result: CallToolResult): CallToolResult {
  const meta = result._meta;
  if (!meta) return result;
  const kept = Object.fromEntries(Object.entries(meta).filter(([k]) => !k.startsWith('io.modelcontextprotocol/')));
  const { _meta: _drop, ...rest } = result;
  return Object.keys(kept).length ? { ...rest, _meta: kept } : rest;
}
