/** A JSON-RPC id as the hub answers with it: a string or a number (JSON-RPC 2.0 §4). */
export type JsonRpcId = string | number;

/** The id of a message, when it has a usable one (JSON-RPC 2.0 §5: an answer to one without names null). */
export function requestIdOf(value: unknown): JsonRpcId | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('id' in value)) return null;
  const id = (value as { id: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** A JSON-RPC request (a method and an id), not a notification or a client's answer to the server. */
export function isRequest(value: unknown): boolean {
  return requestIdOf(value) !== null && typeof (value as { method?: unknown }).method === 'string';
}
