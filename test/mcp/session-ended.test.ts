/**
 * Which HTTP answers to a request sent with a session say the server does not know that session:
 * the spec's 404, and the 400 with a JSON-RPC error that servers built on the SDKs' examples
 * (server-everything among them) send instead. Other 400s stay errors.
 */
import { describe, expect, it } from 'vitest';
import { endsSession } from '../../src/mcp/downstream/session-ended.js';

const rpcError = (message: string, id: number | null = 1) => JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id });

describe('endsSession', () => {
  it.each([
    ['the spec’s 404, whatever its body', 404, 'Not Found', true],
    ['server-everything’s 400', 400, rpcError('Bad Request: No valid session ID provided'), true],
    ['the SDK examples’ 400, with id null', 400, rpcError('Bad Request: No valid session ID provided', null), true],
    ['a fresh SDK transport made for the unknown id', 400, rpcError('Bad Request: Server not initialized'), true],
    ['a 400 for an unsupported version', 400, rpcError('Bad Request: Unsupported protocol version: 2099-01-01'), false],
    ['a 400 for a parse error', 400, rpcError('Parse error: Invalid JSON'), false],
    ['a 400 whose plain text names a session', 400, 'Invalid or missing session ID', false],
    ['a 400 without a body', 400, null, false],
    ['a 500 that names the session', 500, rpcError('session store unavailable'), false],
  ])('%s: %s', (_what, status, body, ends) => {
    expect(endsSession(status, body)).toBe(ends);
  });
});
