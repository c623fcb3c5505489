import type { CallToolRequestParams, CallToolResult, Client, RequestOptions, StandardSchemaV1 } from '@modelcontextprotocol/client';

/**
 * The shape a downstream's tools/call result must have for the hub to pass it on: an object whose
 * `content`, if present, is a list (absent reads as empty, as the protocol's schema defaults it).
 * The hub does not re-validate every content block and the structured output: its caller's client
 * does that against the tool as the hub lists it, and doing it twice per call doubled the hub's
 * parsing cost. `isError` must be a boolean, since the hub reads it for its metrics.
 */
const TOOL_RESULT: StandardSchemaV1<unknown, CallToolResult> = {
  '~standard': {
    version: 1,
    vendor: 'switchboard',
    validate(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { issues: [{ message: 'the result is not an object' }] };
      const r = value as Record<string, unknown>;
      if (r['content'] !== undefined && !Array.isArray(r['content'])) return { issues: [{ message: 'content is not a list', path: ['content'] }] };
      if (r['isError'] !== undefined && typeof r['isError'] !== 'boolean') return { issues: [{ message: 'isError is not a boolean', path: ['isError'] }] };
      return { value: (r['content'] === undefined ? { ...r, content: [] } : r) as CallToolResult };
    },
  },
};

/**
 * One tools/call to a downstream server, without the client's per-call extras the hub does not
 * need: the full result schema parse, the output-schema check (the caller's client checks it) and
 * the header scan of its tools cache (the hub mirrors `Mcp-Param-*` headers from its own list).
 * Input-required results come back as they are when `allowInputRequired` is set, as with `callTool`.
 */
export function sendToolCall(client: Client, params: CallToolRequestParams, options: RequestOptions): Promise<CallToolResult> {
  return client.request({ method: 'tools/call', params: params as unknown as Record<string, unknown> }, TOOL_RESULT, options);
}
