import { parseExact, scalarText } from '../definition/exact-json.js';
import { isRecord } from '../is-record.js';

/** A JSON-RPC id as the hub answers with it: a string or a number (JSON-RPC 2.0 §4). */
export type JsonRpcId = string | number;

/**
 * What the hub answers a message whose integer id JSON.parse cannot hold: MCP's schema takes an
 * integer id only within ±(2^53−1), so no method could be served under it.
 */
export const ROUNDED_ID_MESSAGE = 'Invalid Request: an integer id must be within ±9007199254740991 (2^53−1); send a larger id as a string';

/** An integer past 2^53 as JSON.parse read it: rounded (9007199254740993 reads as …992), so another request's id. */
function rounded(id: unknown): boolean {
  return typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id);
}

/**
 * The id of a message, when it has a usable one (JSON-RPC 2.0 §5: an answer to one without names
 * null, as it does when the id was rounded: it would name a request the client did not send).
 */
export function requestIdOf(value: unknown): JsonRpcId | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('id' in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && !rounded(id)) ? id : null;
}

/** A JSON-RPC request (a method and an id), not a notification or a client's answer to the server. */
export function isRequest(value: unknown): boolean {
  return requestIdOf(value) !== null && typeof (value as { method?: unknown }).method === 'string';
}

/** Whether a message, or a message of a batch, has an integer id JSON.parse rounded. */
export function hasRoundedId(value: unknown): boolean {
  return (Array.isArray(value) ? value : [value]).some((m) => isRecord(m) && rounded(m['id']));
}

/**
 * The id to answer the message `text` (read as `value`) with, as JSON text: a rounded integer id
 * as its digits were sent (a client with 64-bit ids matches its answer by them), else as
 * requestIdOf says. Null when those digits cannot be read back (an exponent, as in 9.1e15).
 */
export function requestIdJson(text: string, value: unknown): string {
  if (Array.isArray(value) || !hasRoundedId(value)) return JSON.stringify(requestIdOf(value));
  const exact = parseExact(text);
  const digits = isRecord(exact) && typeof exact['id'] === 'string' ? scalarText(exact['id']) : undefined;
  return digits !== undefined && /^-?[0-9]+$/.test(digits) ? digits : 'null';
}
