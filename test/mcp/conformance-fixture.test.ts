import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { rawModernCall, type RpcReply } from '../helpers/raw-mcp.js';

/**
 * The conformance fixture source is what `npm run conformance` runs the official suite against.
 * These tests pin the flag that turns it on (so it can neither leak into a default hub nor
 * silently vanish from the suite's hub) and the multi-round-trip path it exercises on both eras.
 */

let hub: RunningHub | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await hub?.stop();
  hub = undefined;
});

type Era = 'auto' | 'legacy';

async function connect(h: RunningHub, mode: Era, token = h.token): Promise<Client> {
  const client = new Client({ name: 'fixture-test', version: '1.0.0' }, { versionNegotiation: { mode }, capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler('elicitation/create', async (req) => {
    const content: Record<string, string> = req.params.message.includes('color') ? { color: 'blue' } : { name: 'Alice' };
    return { action: 'accept', content };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

/** One 2026-07-28 tools/call on the wire, so a test can echo (or alter) requestState itself. */
function rawCall(h: RunningHub, token: string, name: string, extra: Record<string, unknown> = {}): Promise<RpcReply> {
  return rawModernCall(h.url, token, { name, ...extra });
}

describe('conformance fixture source', () => {
  it('is not part of a hub by default', async () => {
    hub = await startHub();
    const client = await connect(hub, 'auto');
    expect((await client.listTools()).tools).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
    expect((await client.listPrompts()).prompts).toEqual([]);
    await expect(client.callTool({ name: 'test_simple_text', arguments: {} })).rejects.toMatchObject({ code: -32602 });
  });

  for (const mode of ['auto', 'legacy'] as const) {
    it(`serves the suite's tools, resources and prompts under their bare names when enabled (${mode} client)`, async () => {
      hub = await startHub({ fixtures: { conformance: true } });
      const client = await connect(hub, mode);
      expect(client.getNegotiatedProtocolVersion()).toBe(mode === 'auto' ? '2026-07-28' : '2025-11-25');

      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['test_simple_text', 'test_tool_with_progress', 'test_sampling', 'test_input_required_result_elicitation']));
      expect(await client.callTool({ name: 'test_simple_text', arguments: {} })).toMatchObject({
        content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
      });
      expect(await client.readResource({ uri: 'test://template/42/data' })).toMatchObject({
        contents: [
          { uri: 'test://template/42/data', mimeType: 'application/json', text: JSON.stringify({ id: '42', templateTest: true, data: 'Data for ID: 42' }) },
        ],
      });
      expect(await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } })).toMatchObject({
        messages: [{ role: 'user', content: { type: 'text', text: "Prompt with arguments: arg1='a', arg2='b'" } }],
      });
    });

    it(`asks the user through the client and finishes with the answer (${mode} client)`, async () => {
      // 2026-07-28: an input_required result the client fulfils and retries; 2025: the SDK turns
      // the same result into an elicitation/create request on the session.
      hub = await startHub({ fixtures: { conformance: true } });
      const client = await connect(hub, mode);
      expect(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} })).toMatchObject({
        content: [{ type: 'text', text: 'Hello, Alice!' }],
      });
      // Two rounds whose second carries the first answer in the hub-signed requestState.
      expect(await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} })).toMatchObject({
        content: [{ type: 'text', text: 'Alice likes blue' }],
      });
      expect(await client.getPrompt({ name: 'test_input_required_result_prompt' })).toMatchObject({
        messages: [{ role: 'user', content: { type: 'text', text: 'Prompt rendered with context: (none)' } }],
      });
    });
  }

  it('signs requestState and binds it to the caller and the tool', async () => {
    hub = await startHub({ fixtures: { conformance: true } });
    const bob = (await hub.hub.tokens.create({ user: 'bob' })).token;
    const answer = { inputResponses: { confirm: { action: 'accept', content: { ok: true } } } };

    const first = await rawCall(hub, hub.token, 'test_input_required_result_request_state');
    expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
    const state = first.result!.requestState!;
    // The source returned a plain string; what the client holds is the hub's signed envelope.
    expect(state).not.toBe('awaiting-confirmation');
    expect(state).toMatch(/^v1\./);

    const refused = { error: { code: -32602, message: 'Invalid or expired requestState' } };
    expect(await rawCall(hub, hub.token, 'test_input_required_result_request_state', { ...answer, requestState: `${state}x` })).toMatchObject(refused);
    expect(await rawCall(hub, bob, 'test_input_required_result_request_state', { ...answer, requestState: state })).toMatchObject(refused);
    // Another tool whose own state has the same plain value must not accept it either.
    expect(await rawCall(hub, hub.token, 'test_input_required_result_tampered_state', { ...answer, requestState: state })).toMatchObject(refused);

    expect(await rawCall(hub, hub.token, 'test_input_required_result_request_state', { ...answer, requestState: state })).toMatchObject({
      result: { content: [{ type: 'text', text: 'state-ok: confirmation accept' }] },
    });
  });
});
