import { parseJSONRPCMessage, SERVER_INFO_META_KEY, type JSONRPCMessage } from '@modelcontextprotocol/client';
import { CALL_TAG } from './relate.js';
import { isRecord } from '../../is-record.js';

/**
 * A downstream's answer as the SDK's message schema would give it. The answers of a tools/call —
 * a result or an error response — are checked structurally against that schema's rules (strict
 * keys, `jsonrpc: "2.0"`, an integer or string id, an object result, an integer code and a string
 * message); that check accepts only what the schema accepts unchanged, and anything else (requests,
 * notifications, what the check does not accept) goes through the SDK's parse, so its errors and
 * its normalisations are the SDK's. One difference: the schema drops a result's malformed
 * `_meta` serverInfo, while the check only requires a name and a version in it; the hub strips the
 * protocol's `_meta` keys from downstream results anyway (results.ts).
 */
export function parseMessage(value: unknown): JSONRPCMessage {
  if (isPlainAnswer(value)) return value;
  return parseJSONRPCMessage(value);
}

function isPlainAnswer(v: unknown): v is JSONRPCMessage {
  if (!isRecord(v) || v['jsonrpc'] !== '2.0') return false;
  const result = v['result'];
  if (result !== undefined) return isId(v['id']) && isRecord(result) && onlyKeys(v, RESPONSE_KEYS) && isResultMeta(result['_meta']);
  const error = v['error'];
  return (
    (v['id'] === undefined || isId(v['id'])) &&
    isRecord(error) &&
    Number.isInteger(error['code']) &&
    typeof error['message'] === 'string' &&
    onlyKeys(v, ERROR_RESPONSE_KEYS) &&
    onlyKeys(error, ERROR_KEYS)
  );
}

const RESPONSE_KEYS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_RESPONSE_KEYS = new Set(['jsonrpc', 'id', 'error']);
const ERROR_KEYS = new Set(['code', 'message', 'data']);

function isResultMeta(meta: unknown): boolean {
  if (meta === undefined) return true;
  if (!isRecord(meta)) return false;
  const info = meta[SERVER_INFO_META_KEY];
  return info === undefined || (isRecord(info) && typeof info['name'] === 'string' && typeof info['version'] === 'string');
}

function isId(id: unknown): boolean {
  return typeof id === 'string' || Number.isInteger(id);
}

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

/** A server→client request or notification of a related call, with the call's tag in its `_meta` (relate.ts). */
export function stampCall(message: JSONRPCMessage, tag: string): JSONRPCMessage {
  if (!('method' in message)) return message;
  const params = isRecord(message.params) ? message.params : {};
  const meta = isRecord(params['_meta']) ? params['_meta'] : {};
  return { ...message, params: { ...params, _meta: { ...meta, [CALL_TAG]: tag } } };
}

/**
 * Delivers a transport's incoming messages in order. The SDK dispatches a notification a microtask
 * late but settles a response at once, so progress read in the same chunk as its result would find
 * its handler gone (modelcontextprotocol/typescript-sdk#2580): a response that follows a
 * notification or request in the same turn waits for the next one.
 */
export class Inbox {
  private readonly queue: JSONRPCMessage[] = [];
  /** A notification or request went out this turn: a response waits for the next one. */
  private held = false;

  constructor(private readonly deliver: (m: JSONRPCMessage) => void) {}

  push(message: JSONRPCMessage): void {
    if (this.queue.length > 0 || (this.held && !('method' in message))) this.queue.push(message);
    else this.now(message);
  }

  private now(message: JSONRPCMessage): void {
    this.deliver(message);
    if ('method' in message && !this.held) {
      this.held = true;
      setImmediate(this.release);
    }
  }

  private readonly release = (): void => {
    this.held = false;
    for (let m = this.queue[0]; m !== undefined; m = this.queue[0]) {
      if (this.held && !('method' in m)) return;
      this.queue.shift();
      this.now(m);
    }
  };
}
