/**
 * The hand-written checks on the hot path agree with the schemas they stand in for: where a hand
 * check says yes, the schema says yes with the same values; where it is not sure, the schema decides.
 */
import { classifyInboundRequest, isJSONRPCRequest, RELATED_TASK_META_KEY } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { isLegacyInbound } from '../../src/mcp/classify-era.js';
import { callSchema, directCallOf } from '../../src/mcp/direct/call-shape.js';

const call = (over: Record<string, unknown> = {}, params: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'agent__echo', arguments: { input: 'hi' }, ...params },
  ...over,
});

const BODIES: unknown[] = [
  call(),
  call({ id: 'abc' }),
  call({ id: 1.5 }),
  call({ id: 2 ** 60 }),
  call({ id: null }),
  call({ id: undefined }),
  call({ jsonrpc: '1.0' }),
  call({ method: 'tools/list' }),
  call({ extra: true }),
  call({ params: [] }),
  call({ params: null }),
  call({}, { name: 7 }),
  call({}, { arguments: [1] }),
  call({}, { arguments: null }),
  call({}, { _meta: { progressToken: 'p1' } }),
  call({}, { _meta: { progressToken: 3 } }),
  call({}, { _meta: { progressToken: 3.5 } }),
  call({}, { _meta: { progressToken: true } }),
  call({}, { _meta: { progressToken: null } }),
  call({}, { _meta: [] }),
  call({}, { _meta: { other: 1 } }),
  call({}, { _meta: { [RELATED_TASK_META_KEY]: { taskId: 't' } } }),
  call({}, { _meta: { [RELATED_TASK_META_KEY]: { taskId: 1 } } }),
  call({}, { task: { ttl: 1 } }),
  call({}, { requestState: 'x' }),
  call({}, { inputResponses: {} }),
  { jsonrpc: '2.0', id: 1, method: 'ping' },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 1, result: {} },
  JSON.parse('{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{}}'),
  [call()],
  'tools/call',
  null,
];

describe('hand checks on the hot path', () => {
  it.each(BODIES.map((b) => [JSON.stringify(b) ?? String(b), b]))('a direct call is what the schema makes of %s', (_label, body) => {
    const schema = callSchema.safeParse(body);
    expect(directCallOf(body)).toEqual(schema.success ? schema.data : undefined);
  });

  it.each(BODIES.map((b) => [JSON.stringify(b) ?? String(b), b]))('the era of %s is the SDK classifier’s', (_label, body) => {
    for (const protocolVersionHeader of [undefined, '2025-11-25']) {
      const fields = { httpMethod: 'POST', body, ...(protocolVersionHeader ? { protocolVersionHeader } : {}) };
      expect(isLegacyInbound(fields)).toBe(classifyInboundRequest(fields).kind === 'legacy');
    }
  });

  it('covers both answers', () => {
    // Without both outcomes among the bodies, the agreement above would prove little.
    expect(BODIES.filter((b) => directCallOf(b) !== undefined).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => directCallOf(b) === undefined).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => isJSONRPCRequest(b)).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => !isJSONRPCRequest(b)).length).toBeGreaterThan(4);
  });
});
