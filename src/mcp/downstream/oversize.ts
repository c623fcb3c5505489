import type { OversizeLine } from './line-splitter.js';

import type { JsonRpcId } from '../json-rpc-id.js';

export type { JsonRpcId };

/** What the edges of a dropped message say about it. */
export interface OversizePeek {
  /** The message's own id when it sits at either end of the line, else undefined. */
  id: JsonRpcId | undefined;
  /** Request (`method` with id), response (`result`/`error`), or unknown. */
  kind: 'request' | 'response' | 'unknown';
}

// `{"jsonrpc":"2.0","id":7,…` — the SDKs (TypeScript, Python) write the id right after jsonrpc.
const HEAD_ID = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*,/;
// `…,"id":7}` — writers that put the id last. One closing brace: a nested object's "id" ends in two or more.
const TAIL_ID = /,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$/;
// The first of these keys in the head tells a request from a response; payloads come after them.
const FIRST_KIND_KEY = /"(method|result|error)"\s*:/;

/**
 * Reads the id and kind of a JSON-RPC message from the bytes kept of an oversize line, so the
 * one request it answers (or asks) can be failed precisely instead of every call in flight.
 */
export function peekOversize(line: OversizeLine): OversizePeek {
  const head = line.head.toString('utf8');
  const tail = line.tail.toString('utf8');
  const raw = HEAD_ID.exec(head)?.[1] ?? (line.ended ? TAIL_ID.exec(tail)?.[1] : undefined);
  const key = FIRST_KIND_KEY.exec(head)?.[1];
  const kind = key === 'method' ? 'request' : key === 'result' || key === 'error' ? 'response' : 'unknown';
  return { id: raw === undefined ? undefined : parseId(raw), kind };
}

function parseId(raw: string): JsonRpcId | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'string' || typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** "32 MiB" / "1.5 MiB" / "900 bytes", for messages people read. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
}
