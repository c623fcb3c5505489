/**
 * A request whose integer id is past 2^53 (a client numbering its requests with 64-bit integers)
 * cannot be served: JSON.parse rounds the id (9007199254740993 reads as …992) and MCP's schema takes
 * integer ids within ±(2^53−1) only. Its refusal must not carry the rounded number, which names a
 * request the client did not send (its own request would never complete, and another could be
 * failed in its place): `switchboard stdio` answers with the id's digits as sent, HTTP in both eras
 * with null (JSON-RPC 2.0 §5), each saying to send such an id as a string.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUNDED_ID_MESSAGE } from '../../src/mcp/json-rpc-id.js';
import { CLI, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { modernEnvelope, modernHeaders, rawInitialize, sessionHeaders } from '../helpers/raw-mcp.js';

const BIG = '9007199254740993';
const refusal = (id: string) => `{"jsonrpc":"2.0","id":${id},"error":{"code":-32600,"message":"${ROUNDED_ID_MESSAGE}","data":{"code":"bad_request"}}}`;

describe('an integer id past 2^53 over switchboard stdio', () => {
  it('is refused under its own digits (or null when they cannot be read back), and the face serves on', async () => {
    const dir = tmpDir();
    const child = spawn(process.execPath, [CLI, 'stdio', '--no-http', '--data', dir.path], { stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const answer = async (line: string) => {
      child.stdin.write(`${line}\n`);
      return (await lines.next()).value as string;
    };
    try {
      const init = await answer(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        }),
      );
      expect(JSON.parse(init).result.protocolVersion).toBe('2025-11-25');
      child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
      expect(await answer(`{"jsonrpc":"2.0","id":${BIG},"method":"ping"}`)).toBe(refusal(BIG));
      expect(await answer(`{"jsonrpc":"2.0","method":"tools/list","id":-${BIG}0}`)).toBe(refusal(`-${BIG}0`));
      expect(await answer('{"jsonrpc":"2.0","id":9.007199254740993e15,"method":"ping"}')).toBe(refusal('null'));
      expect(JSON.parse(await answer('{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}'))).toEqual({ jsonrpc: '2.0', id: 9007199254740991, result: {} });
    } finally {
      child.kill();
      dir.remove();
    }
  });
});

describe('an integer id past 2^53 over HTTP', () => {
  let hub: RunningHub;
  let session: string;

  beforeAll(async () => {
    hub = await startHub({});
    session = (await rawInitialize(hub.url, hub.token)).sessionId!;
  });
  afterAll(() => hub?.stop());

  async function post(headers: Record<string, string>, body: string): Promise<string> {
    const res = await fetch(hub.url, { method: 'POST', headers, body });
    return `${res.status} ${await res.text()}`;
  }

  it('is refused with id null on a 2025 session, an initialize, a batch and 2026-07-28, and the session serves on', async () => {
    const plain = { authorization: `Bearer ${hub.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    const envelope = JSON.stringify(modernEnvelope());
    const init = JSON.stringify({ protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } });
    const asked = [
      [sessionHeaders(hub.token, session), `{"jsonrpc":"2.0","id":${BIG},"method":"ping"}`],
      [sessionHeaders(hub.token, session), `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":${BIG},"method":"ping"}]`],
      [plain, `{"jsonrpc":"2.0","id":${BIG},"method":"initialize","params":${init}}`],
      [modernHeaders(hub.token, 'tools/list'), `{"jsonrpc":"2.0","id":${BIG},"method":"tools/list","params":{"_meta":${envelope}}}`],
      [modernHeaders(hub.token, 'ping'), `{"jsonrpc":"2.0","id":${BIG},"method":"ping","params":{"_meta":${envelope}}}`],
    ] as const;
    for (const [headers, body] of asked) expect(await post(headers, body), body).toBe(`400 ${refusal('null')}`);
    expect(await post(sessionHeaders(hub.token, session), '{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}')).toMatch(/"id":9007199254740991/);
  });
});
