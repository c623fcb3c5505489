import { CLIENT_CAPABILITIES_META_KEY, classifyInboundRequest, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { isLegacyInbound, type InboundFields } from '../../src/mcp/classify-era.js';

const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'fx__echo', arguments: { text: 'hi' } } };
const envelope = { [PROTOCOL_VERSION_META_KEY]: '2026-07-28', [CLIENT_CAPABILITIES_META_KEY]: {} };

/** Each case with the era `/mcp` must route it to; the SDK's classifier must agree on every one. */
const cases: Array<[string, InboundFields, boolean]> = [
  ['a 2025 tools/call with its version header', { httpMethod: 'POST', body: call, protocolVersionHeader: '2025-11-25' }, true],
  ['a 2025 tools/call without a header', { httpMethod: 'POST', body: call }, true],
  ['a header with surrounding blanks', { httpMethod: 'POST', body: call, protocolVersionHeader: ' 2025-06-18 ' }, true],
  [
    'initialize',
    {
      httpMethod: 'POST',
      body: {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
      },
    },
    true,
  ],
  ['notifications/initialized', { httpMethod: 'POST', body: { jsonrpc: '2.0', method: 'notifications/initialized' } }, true],
  ['a posted result', { httpMethod: 'POST', body: { jsonrpc: '2.0', id: 1, result: {} } }, true],
  ['a posted error', { httpMethod: 'POST', body: { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'no' } } }, true],
  ['a body with both method and result', { httpMethod: 'POST', body: { ...call, result: {} } }, false],
  ['a batch', { httpMethod: 'POST', body: [call] }, true],
  ['GET', { httpMethod: 'GET', body: undefined }, true],
  [
    'a 2026 request with its envelope',
    { httpMethod: 'POST', body: { ...call, params: { ...call.params, _meta: envelope } }, protocolVersionHeader: '2026-07-28' },
    false,
  ],
  ['a 2026 header without an envelope', { httpMethod: 'POST', body: call, protocolVersionHeader: '2026-07-28' }, false],
  ['an unknown newer header', { httpMethod: 'POST', body: call, protocolVersionHeader: '2027-01-01' }, false],
  ['an envelope claim that is invalid', { httpMethod: 'POST', body: { ...call, params: { _meta: { [PROTOCOL_VERSION_META_KEY]: 5 } } } }, false],
  ['a method that is not a string', { httpMethod: 'POST', body: { jsonrpc: '2.0', id: 1, method: 5 } }, false],
  ['a request without jsonrpc', { httpMethod: 'POST', body: { id: 1, method: 'tools/list' } }, false],
  ['no body', { httpMethod: 'POST', body: undefined }, false],
];

describe('era routing of /mcp', () => {
  it.each(cases)('%s', (_name, fields, legacy) => {
    expect({ ours: isLegacyInbound(fields), sdk: classifyInboundRequest(fields).kind === 'legacy' }).toEqual({ ours: legacy, sdk: legacy });
  });
});
