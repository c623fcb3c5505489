import { modernEnvelope, modernHeaders, type RpcReply } from '../helpers/raw-mcp.js';

/** Client capabilities that declare the Tasks extension (SEP-2663). */
export const WITH_TASKS = { elicitation: {}, extensions: { 'io.modelcontextprotocol/tasks': {} } };
export const WITHOUT_TASKS = { elicitation: {} };

/** The body field each method's Mcp-Name header mirrors (SEP-2243, SEP-2663). */
function nameOf(method: string, params: Record<string, unknown>): string | undefined {
  const field = method === 'tools/call' ? 'name' : method.startsWith('tasks/') ? 'taskId' : undefined;
  const v = field === undefined ? undefined : params[field];
  return typeof v === 'string' ? v : undefined;
}

/**
 * One 2026-07-28 request on the wire, as a client of that era sends it: the SDK's client has no
 * task support, so the tests speak JSON-RPC over fetch. `params` may override `_meta`.
 */
export async function modernRpc(
  url: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
  capabilities: Record<string, unknown> = WITH_TASKS,
): Promise<RpcReply> {
  const name = nameOf(method, params);
  const res = await fetch(url, {
    method: 'POST',
    headers: modernHeaders(token, method, name),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { _meta: modernEnvelope(capabilities), ...params } }),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .filter(Boolean)
        .at(-1)!
    : text;
  return JSON.parse(json) as RpcReply;
}

/** A client bound to one hub URL and token. */
export function taskClient(url: string, token: string, capabilities: Record<string, unknown> = WITH_TASKS) {
  const call = (method: string, params: Record<string, unknown> = {}) => modernRpc(url, token, method, params, capabilities);
  return {
    call,
    /** The result, or a thrown error naming the JSON-RPC error. */
    async ok(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const r = await call(method, params);
      if (r.error || !r.result) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
      return r.result;
    },
    async tool(name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const r = await call('tools/call', { name, arguments: args });
      if (r.error || !r.result) throw new Error(`tools/call ${name} failed: ${JSON.stringify(r.error)}`);
      return r.result;
    },
    /** Polls tasks/get until the task has one of `statuses`. */
    async until(taskId: string, statuses: readonly string[], timeoutMs = 10_000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await call('tasks/get', { taskId });
        if (r.result && statuses.includes(String(r.result['status']))) return r.result;
        if (Date.now() > deadline) throw new Error(`task ${taskId} did not reach ${statuses.join('|')}: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
  };
}
