import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { isRecord } from '../is-record.js';
import type { JsonRpcId } from './json-rpc-id.js';

/**
 * How long a connection that ends gives the requests it read to be answered, as `serve` gives the
 * requests under way when it stops (DRAIN_MS, src/http/listener.ts; not imported, since that
 * module loads the HTTP stack a stdio hub defers).
 */
export const ANSWER_GRACE_MS = 2_000;

/**
 * The requests a client sent that have not been answered yet, with what each asked: what a
 * connection must still answer as it ends (JSON-RPC 2.0 §4: every request gets a response). A
 * script pipes its requests and closes stdin at once, and reads the answers after.
 */
export class OwedAnswers {
  /** What each asked, worded only for the few a stop answers hub_stopping: a read costs a map entry. */
  private readonly owed = new Map<JsonRpcId, { method: string; params: unknown }>();
  /** Listen streams (2026-07-28 subscriptions/listen): answered only as they end, so never waited for. */
  private readonly lasting = new Set<JsonRpcId>();
  private wake: (() => void) | undefined;

  /** A message read from the client: a request is owed an answer; a cancel releases one (MCP: a cancelled request is not answered). */
  read(m: JSONRPCMessage): void {
    if (!('method' in m)) return;
    if ('id' in m) {
      this.owed.set(m.id, { method: m.method, params: m.params });
      if (m.method === 'subscriptions/listen') this.lasting.add(m.id);
      return;
    }
    const id = m.method === 'notifications/cancelled' && isRecord(m.params) ? m.params['requestId'] : undefined;
    if (typeof id === 'string' || typeof id === 'number') this.answered(id);
  }

  answered(id: JsonRpcId): void {
    this.owed.delete(id);
    this.lasting.delete(id);
    if (this.owed.size === this.lasting.size) this.wake?.();
  }

  /** Resolves once every answer owed, but a listen's, has been given, or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.owed.size === this.lasting.size) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The requests still owed an answer, each with what it asked, taken: each is answered once. */
  take(): Array<{ id: JsonRpcId; what: string }> {
    const left = [...this.owed].map(([id, asked]) => ({ id, what: describeRequest(asked.method, asked.params) }));
    this.owed.clear();
    this.lasting.clear();
    this.wake?.();
    return left;
  }
}

/** A request as its answer names it: the method, and the tool, prompt or resource it is about. */
export function describeRequest(method: string, params: unknown): string {
  const about = isRecord(params) ? (params['name'] ?? params['uri']) : undefined;
  return typeof about === 'string' ? `${method} ${about}` : method;
}
