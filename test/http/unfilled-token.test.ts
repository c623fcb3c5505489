/**
 * The README's commands pass the token as `Authorization: Bearer ${TOKEN}`. Run where TOKEN is not
 * set, the header arrives as a bare `Bearer`; pasted into a JSON config (Claude Desktop's args, an
 * mcp-remote entry without the variable in its env), as the literal `Bearer ${TOKEN}`. The 401 then
 * says which of the two happened, where it said "Invalid Authorization header format" of a header
 * that looks right, or "unknown or revoked token" of a token the user never sent. So does the
 * example's placeholder (`Authorization:Bearer TOKEN`) left in place.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_HINT } from '../../src/http/auth.js';
import { startHub, type RunningHub } from '../helpers/hub.js';

const EMPTY = 'the Authorization header has no token after Bearer: a shell variable such as ${TOKEN} that is not set where the command ran expands to nothing.';
const literal = (name: string) =>
  `the token sent is the text ${name}: the variable was not expanded (a JSON config such as claude_desktop_config.json expands none, mcp-remote only from the env of its entry); put the token itself there.`;

let hub: RunningHub;
let metadata: string;

beforeAll(async () => {
  hub = await startHub();
  metadata = `http://127.0.0.1:${hub.port}/.well-known/oauth-protected-resource/mcp`;
});
afterAll(() => hub.stop());

function initialize(authorization: string): Promise<Response> {
  return fetch(hub.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

describe('a header whose token variable was not filled in', () => {
  it('a bare Bearer (the variable unset in the shell) is told so, with the challenge of no credentials', async () => {
    const res = await initialize('Bearer');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadata}", scope="mcp"`);
    expect(((await res.json()) as { error_description: string }).error_description).toBe(`${EMPTY} ${OAUTH_HINT}`);
  });

  it.each(['${TOKEN}', '$TOKEN', '${SWITCHBOARD_TOKEN}'])('the literal %s is named as an unexpanded variable', async (name) => {
    const res = await initialize(`Bearer ${name}`);
    expect(res.status).toBe(401);
    const description = `${literal(name)} ${OAUTH_HINT}`;
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", error_description="${description}", scope="mcp", resource_metadata="${metadata}"`,
    );
    expect(((await res.json()) as { error_description: string }).error_description).toBe(description);
    // Still a valid RFC 6750 error_description: printable ASCII without " or \.
    expect(description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  });

  it.each(['TOKEN', '<token>'])('the README placeholder %s left in place is named as one', async (word) => {
    const res = await initialize(`Bearer ${word}`);
    expect(res.status).toBe(401);
    const description = `the token sent is the placeholder ${word} from the example: put a hub token in its place. ${OAUTH_HINT}`;
    expect(((await res.json()) as { error_description: string }).error_description).toBe(description);
    expect(description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
  });

  it('the 1.x SDK client (what Claude Desktop embeds) shows the reason in its error', async () => {
    const client = new Client({ name: 'desktop', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: 'Bearer ${TOKEN}' } } });
    await expect(client.connect(transport)).rejects.toThrow('the token sent is the text ${TOKEN}: the variable was not expanded');
    await client.close().catch(() => {});
  });

  it('a token that merely starts with $ but is no variable name, and a real unknown token, keep their answer', async () => {
    for (const token of ['$not a name', 'sbt_not-a-real-token']) {
      const res = await initialize(`Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error_description: string }).error_description).toBe(`unknown or revoked token. ${OAUTH_HINT}`);
    }
  });

  it('a valid token still passes', async () => {
    const res = await initialize(`Bearer ${hub.token}`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});
