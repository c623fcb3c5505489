import { errors } from 'oidc-provider';
import { describeError } from '../errors.js';

/** What a client is told while the store cannot be read or written, as /mcp says it (src/http/auth.ts). */
export const STORE_UNAVAILABLE = "the hub's store did not answer; try again shortly";
/** Seconds a client is asked to wait, the same as /mcp's `auth_unavailable`. */
export const STORE_RETRY_AFTER = '5';

/**
 * A store failure met by one of the library's endpoints (PostgreSQL away, say): the library would
 * answer any error of ours with 500 `server_error` "oops! something went wrong", which tells a
 * client nothing and is not worth a retry. It is `temporarily_unavailable` with 503 instead
 * (RFC 6749 §4.1.2.1 names that code), with the cause kept as the detail the hub's log records.
 */
export function storeUnavailable(cause: unknown): Error {
  const TemporarilyUnavailable = errors['TemporarilyUnavailable']!;
  const err = new TemporarilyUnavailable(STORE_UNAVAILABLE, { detail: describeError(cause) });
  // The library answers with statusCode; `expose` (set from the 400 above) keeps the description.
  return Object.assign(err, { status: 503, statusCode: 503 });
}

/** Runs one store operation, its failure turned into `storeUnavailable`. */
export async function stored<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw storeUnavailable(err);
  }
}
