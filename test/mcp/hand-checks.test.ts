/**
 * The hand-written checks on the hot path agree with the schemas they stand in for: where a hand
 * check says yes, the schema says yes with the same values; where it is not sure, the schema decides.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  classifyInboundRequest,
  isJSONRPCRequest,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  RELATED_TASK_META_KEY,
} from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { isLegacyInbound } from '../../src/mcp/classify-era.js';
import { callSchema, directCallOf } from '../../src/mcp/direct/call-shape.js';
import { directEnvelopeOf, envelopeSchema } from '../../src/mcp/direct/envelope.js';

const call = (over: Record<string, unknown> = {}, params: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'agent__echo', arguments: { input: 'hi' }, ...params },
  ...over,
});

/** A 2026-07-28 envelope as clients send it, with `over` merged in (an undefined value removes the key). */
const envelope = (over: Record<string, unknown> = {}): Record<string, unknown> => {
  const e: Record<string, unknown> = {
    [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
    [CLIENT_INFO_META_KEY]: { name: 'c', version: '1' },
    [CLIENT_CAPABILITIES_META_KEY]: { sampling: {} },
    ...over,
  };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  return e;
};

const ENVELOPES: unknown[] = [
  envelope(),
  envelope({ progressToken: 'p' }),
  envelope({ progressToken: 2.5 }),
  envelope({ progressToken: null }),
  envelope({ progressToken: {} }),
  envelope({ [PROTOCOL_VERSION_META_KEY]: '2025-11-25' }),
  envelope({ [PROTOCOL_VERSION_META_KEY]: 20260728 }),
  envelope({ [PROTOCOL_VERSION_META_KEY]: undefined }),
  envelope({ [CLIENT_INFO_META_KEY]: { name: 'c' } }),
  envelope({ [CLIENT_INFO_META_KEY]: { name: 'c', version: 1 } }),
  envelope({ [CLIENT_INFO_META_KEY]: { name: 'c', version: '1', title: 'C' } }),
  envelope({ [CLIENT_INFO_META_KEY]: [] }),
  envelope({ [CLIENT_INFO_META_KEY]: undefined }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: {} }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: { sampling: true } }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: { sampling: [] } }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: { sampling: null } }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: [] }),
  envelope({ [CLIENT_CAPABILITIES_META_KEY]: undefined }),
  envelope({ [LOG_LEVEL_META_KEY]: 'warning' }),
  envelope({ [LOG_LEVEL_META_KEY]: 'verbose' }),
  envelope({ [LOG_LEVEL_META_KEY]: 3 }),
  envelope({ 'io.modelcontextprotocol/unknown': 1 }),
  envelope({ 'com.example/trace': 'abc' }),
  JSON.parse(
    `{"${PROTOCOL_VERSION_META_KEY}":"2026-07-28","${CLIENT_INFO_META_KEY}":{"name":"c","version":"1"},"${CLIENT_CAPABILITIES_META_KEY}":{"__proto__":{}}}`,
  ),
  JSON.parse(
    `{"${PROTOCOL_VERSION_META_KEY}":"2026-07-28","${CLIENT_INFO_META_KEY}":{"name":"c","version":"1","__proto__":{}},"${CLIENT_CAPABILITIES_META_KEY}":{}}`,
  ),
  JSON.parse(
    `{"${PROTOCOL_VERSION_META_KEY}":"2026-07-28","${CLIENT_INFO_META_KEY}":{"name":"c","version":"1"},"${CLIENT_CAPABILITIES_META_KEY}":{},"__proto__":{}}`,
  ),
  [],
  null,
  undefined,
];

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
  JSON.parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"agent__echo","arguments":{"__proto__":{"x":1}}}}'),
  JSON.parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"agent__echo","__proto__":{}}}'),
  JSON.parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"agent__echo","_meta":{"__proto__":{}}}}'),
  [call()],
  'tools/call',
  null,
  ...ENVELOPES.map((e) => call({}, { _meta: e })),
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', _meta: envelope() } },
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', _meta: envelope({ [CLIENT_INFO_META_KEY]: undefined }) } },
  { jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: envelope() } },
  call({}, { _meta: { ...envelope(), [RELATED_TASK_META_KEY]: { taskId: 't' } } }),
];

describe('hand checks on the hot path', () => {
  it.each(BODIES.map((b) => [JSON.stringify(b) ?? String(b), b]))('a direct call is what the schema makes of %s', (_label, body) => {
    const schema = callSchema.safeParse(body);
    expect(directCallOf(body)).toEqual(schema.success ? schema.data : undefined);
  });

  it.each(BODIES.map((b) => [JSON.stringify(b) ?? String(b), b]))('the era of %s is the SDK classifier’s', (_label, body) => {
    for (const protocolVersionHeader of [undefined, '2025-11-25', '2026-07-28']) {
      const fields = { httpMethod: 'POST', body, ...(protocolVersionHeader ? { protocolVersionHeader } : {}) };
      expect(isLegacyInbound(fields)).toBe(classifyInboundRequest(fields).kind === 'legacy');
    }
  });

  it.each(ENVELOPES.map((e) => [JSON.stringify(e) ?? String(e), e]))('a direct envelope is what the schema makes of %s', (_label, meta) => {
    const schema = envelopeSchema.safeParse(meta);
    const known = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY]);
    // A reserved key the direct path does not know sends the request the SDK's way.
    const reserved = schema.success && Object.keys(schema.data).some((k) => k.startsWith('io.modelcontextprotocol/') && !known.has(k));
    expect(directEnvelopeOf(meta)).toEqual(schema.success && !reserved ? schema.data : undefined);
  });

  it('covers both answers', () => {
    expect(ENVELOPES.filter((e) => directEnvelopeOf(e) !== undefined).length).toBeGreaterThan(4);
    expect(ENVELOPES.filter((e) => directEnvelopeOf(e) === undefined).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => classifyInboundRequest({ httpMethod: 'POST', body: b }).kind === 'modern').length).toBeGreaterThan(4);
    // Without both outcomes among the bodies, the agreement above would prove little.
    expect(BODIES.filter((b) => directCallOf(b) !== undefined).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => directCallOf(b) === undefined).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => isJSONRPCRequest(b)).length).toBeGreaterThan(4);
    expect(BODIES.filter((b) => !isJSONRPCRequest(b)).length).toBeGreaterThan(4);
  });
});
