import { isRecord } from '../../is-record.js';

/**
 * Relates a downstream's server→client messages to the hub's call. A call the hub sends to an HTTP
 * server carries the hub's call id in a request header that this fetch takes off before the request
 * leaves the process; the answer's SSE stream (where a 2025-era server sends the requests and log
 * messages of that call) gets the id stamped on each message under `_meta[CALL_TAG]`. The
 * downstream never sees either.
 */
export const CALL_HEADER = 'x-switchboard-call';
export const CALL_TAG = 'switchboard/call';

/** The call a server→client message was stamped with, if any. */
export function callTagOf(params: unknown): string | undefined {
  if (!isRecord(params) || !isRecord(params['_meta'])) return undefined;
  const tag = params['_meta'][CALL_TAG];
  return typeof tag === 'string' ? tag : undefined;
}

/** The params without the hub's stamp, as the caller should see them. */
export function withoutCallTag<T>(params: T): T {
  if (!isRecord(params) || !isRecord(params['_meta']) || !(CALL_TAG in params['_meta'])) return params;
  const { [CALL_TAG]: _drop, ...meta } = params['_meta'];
  const { _meta: _old, ...rest } = params;
  return (Object.keys(meta).length ? { ...rest, _meta: meta } : rest) as T;
}
