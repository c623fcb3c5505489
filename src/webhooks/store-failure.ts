import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_SPECS, describeError, httpError, isHubError, type HubErrorCode } from '../errors.js';
import { writeJson } from '../http/json.js';
import { closeIfBodyUnread } from '../http/limits.js';
import type { Logger } from '../observability/logger.js';

/**
 * What a failure past verification is. The stores throw store_failed, and the connection lookups
 * their driver's own errors: nothing was kept, and a redelivery may well be stored. A delivery the
 * inbox refuses as given (invalid_params) is a bad input, which no redelivery changes; any other
 * hub error (a secret that does not decrypt, a fault of the hub) keeps its own code.
 */
export function failureOf(err: unknown): HubErrorCode {
  if (!isHubError(err) || err.code === 'store_failed') return 'inbox_unavailable';
  return err.code === 'invalid_params' ? 'bad_body' : err.code;
}

/**
 * Answers a verified delivery (a webhook, an agent's callback) that was not stored: 503 with
 * Retry-After only when the store could not keep it, so the sender tries again; its own code
 * otherwise, logged at that code's level. `what` names it in the log and the answer.
 */
export function answerNotStored(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  o: { log: Logger; where: Record<string, unknown>; what: string; retryAfter: string },
): void {
  const code = failureOf(err);
  const unavailable = code === 'inbox_unavailable';
  o.log[ERROR_SPECS[code].log](
    { ...o.where, code, err: describeError(err) },
    unavailable ? `${o.what} not stored: the inbox is unavailable` : `${o.what} not stored`,
  );
  if (res.headersSent) return void res.end();
  closeIfBodyUnread(req, res);
  if (unavailable) res.setHeader('Retry-After', o.retryAfter);
  const message = unavailable
    ? `the ${o.what} could not be stored; send it again later`
    : code === 'bad_body'
      ? `the ${o.what} cannot be stored as sent: ${describeError(err)}`
      : `the ${o.what} could not be stored`;
  writeJson(res, ERROR_SPECS[code].http, httpError(code, message).body);
}
