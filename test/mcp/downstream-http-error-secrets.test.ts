import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseConfigText } from '../../src/config/load.js';
import { allTextOf, bearerClient } from '../helpers/clients.js';
import { eventually, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';
import { capturedLogger } from '../helpers/log.js';

/**
 * The credentials the operator configures for an HTTP downstream (`headers`, from `${NAME}` or
 * written out) are not shown to hub users when the server's error answer quotes the request (a
 * gateway's error page echoing its Authorization header): the body the error carries is scrubbed
 * of them for the caller, /readyz and the log, as is what `${NAME}` put into the server's URL.
 */

const TOKEN = 'operator-http-secret-777777';
const LITERAL_KEY = 'literal-api-key-555555';
const URL_KEY = 'url-query-key-888888';

/**
 * An MCP endpoint behind a gateway: `/mcp` answers the handshake and lists `x`, and a tools/call
 * with `status` (502 by default) and a page quoting what the request was sent with; `/down`
 * answers every request so.
 */
async function gateway(): Promise<{ base: string; status: (s: number) => void; stop: () => void }> {
  let status = 502;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = z
      .object({ id: z.union([z.string(), z.number()]).optional(), method: z.string().optional() })
      .parse(JSON.parse(Buffer.concat(chunks).toString() || '{}'));
    const quoted = `bad gateway for ${req.url} with authorization: ${req.headers.authorization} and x-api-key: ${req.headers['x-api-key']}`;
    const refuse = (s: number) => void res.writeHead(s, { 'content-type': 'text/plain' }).end(quoted);
    const json = (result: unknown) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
    if (req.method !== 'POST') return void res.writeHead(405).end();
    if (req.url?.startsWith('/down')) return refuse(502);
    if (m.method === 'initialize') return json({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'gw', version: '1' } });
    if (m.id === undefined) return void res.writeHead(202).end();
    if (m.method === 'tools/list') return json({ tools: [{ name: 'x', inputSchema: { type: 'object' } }] });
    if (m.method === 'tools/call') return refuse(status);
    json({});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    status: (s) => {
      status = s;
    },
    stop: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

const secretIn = (text: string) => [TOKEN, LITERAL_KEY, URL_KEY].some((s) => text.includes(s));

describe("an HTTP downstream's error page quoting the hub's credentials for it", () => {
  const dir = tmpDir();
  let gw: Awaited<ReturnType<typeof gateway>>;
  let h: RunningHub;
  let client: Client;
  let lines: string[];

  beforeAll(async () => {
    gw = await gateway();
    const headers = { Authorization: 'Bearer ${UPSTREAM_TOKEN}', 'X-Api-Key': LITERAL_KEY };
    const text = JSON.stringify({
      mcpServers: { w: { url: `${gw.base}/mcp`, headers }, down: { url: `${gw.base}/down?key=\${UPSTREAM_URL_KEY}`, headers } },
    });
    const config = parseConfigText(text, `${dir.path}/switchboard.config.json`, { UPSTREAM_TOKEN: TOKEN, UPSTREAM_URL_KEY: URL_KEY }, () => {});
    lines = [];
    h = await startHub({ mcpServers: config.mcpServers }, { restartBaseMs: 60_000, log: capturedLogger(lines) });
    client = await bearerClient(h.url, (await h.hub.tokens.create({ user: 'mallory' })).token, 'mallory');
  });
  afterAll(async () => {
    await client?.close();
    await h?.stop();
    gw?.stop();
    dir.remove();
  });

  it.each([
    [502, 'Bad Gateway'],
    [401, 'Unauthorized'],
  ])('HTTP %i to a call: the caller is shown the page with them redacted', async (status, statusText) => {
    gw.status(status);
    const text = allTextOf(await client.callTool({ name: 'w__x', arguments: {} }));
    expect(text).toMatch(
      new RegExp(
        `^w: tool x: the server answered HTTP ${status} ${statusText} \\(bad gateway for /mcp with authorization: \\[redacted\\] and x-api-key: \\[redacted\\]\\)`,
      ),
    );
  });

  it('the log lines of those failures, and /readyz of a server whose every answer is an error page, carry them redacted', async () => {
    const hub = h.hub;
    const detail = await eventually(() => hub.catalog.source('down')?.status().detail);
    expect(detail).toMatch(/^could not connect: /);
    expect(secretIn(detail)).toBe(false);
    const failures = lines.filter((l) => l.includes('"tool call failed"'));
    expect(failures).toHaveLength(2);
    for (const l of failures) expect(l).toContain('(bad gateway for /mcp with authorization: [redacted] and x-api-key: [redacted])');
    expect(lines.filter(secretIn)).toEqual([]);
  });
});
