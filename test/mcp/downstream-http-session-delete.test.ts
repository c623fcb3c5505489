/**
 * The hub ends each 2025-era session it opened at an HTTP downstream with an HTTP DELETE once it
 * no longer needs it (Streamable HTTP 2025-11-25, Session Management): on a clean stop, for its
 * own session and each identity's, and when one connection is closed alone (an idle identity's
 * session dropped). The downstream is a 1.x SDK server keeping a session map as the SDK's
 * examples do, which holds every session until it is deleted. Best effort: a server that does
 * not answer holds the close about a second, a 405 is no error, and a redirect to another origin
 * is not followed.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { DownstreamSource } from '../../src/mcp/downstream/source.js';
import { HubMetrics } from '../../src/observability/metrics.js';
import { sdk1SessionsListener } from '../fixtures/sdk1-sessions.js';
import { startHub } from '../helpers/hub.js';

/** How the server answers a DELETE: as the SDK does (ends the session), never, 405, or a redirect elsewhere. */
type OnDelete = 'end' | 'hang' | 405 | { redirectTo: string };

interface Downstream {
  url: string;
  /** Sessions the server still holds. */
  open: () => number;
  /** The headers of each DELETE it got. */
  deletes: IncomingHttpHeaders[];
  /** Requests of any kind it got. */
  requests: number;
  stop: () => void;
}

const listening = new Set<Server>();
afterEach(() => {
  for (const s of listening) {
    s.close();
    s.closeAllConnections();
  }
  listening.clear();
});

async function downstream(onDelete: OnDelete = 'end'): Promise<Downstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const build = () => {
    const s = new McpServer({ name: 'sessions', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.registerTool('noop', { description: 'Does nothing' }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
    return s;
  };
  const d: Downstream = { url: '', open: () => sessions.size, deletes: [], requests: 0, stop: () => {} };
  const serve = sdk1SessionsListener(build, { sessions, unknownIs404: true });
  const server = createServer((req, res) => {
    d.requests++;
    if (req.method === 'DELETE') {
      d.deletes.push(req.headers);
      if (onDelete === 'hang') return;
      if (onDelete === 405) return void res.writeHead(405, { allow: 'GET, POST' }).end();
      if (typeof onDelete === 'object') return void res.writeHead(307, { location: onDelete.redirectTo }).end();
    }
    serve(req, res);
  });
  listening.add(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  d.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  return d;
}

const HEADERS = { authorization: 'Bearer downstream-secret' };

/** One connection to the server, as the hub opens one per identity; `warnings`: what it logged at warn or above. */
function connection(url: string): { source: DownstreamSource; warnings: string[] } {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) warnings.push(String((JSON.parse(l) as { msg: unknown }).msg));
      done();
    },
  });
  const config = configSchema.parse({ integrations: {}, mcpServers: { w: { url, headers: HEADERS } } }).mcpServers['w']!;
  const source = new DownstreamSource({
    name: 'w',
    config,
    clock: systemClock,
    log: pino({ level: 'warn' }, sink),
    metrics: new HubMetrics(),
    role: 'session',
  });
  return { source, warnings };
}

describe('the sessions the hub opens at a 2025-era HTTP server', () => {
  it('are all deleted when the hub stops cleanly: its own and each identity’s, with the configured credentials', async () => {
    const server = await downstream();
    const hub = await startHub({ mcpServers: { w: { url: server.url, headers: HEADERS } } });
    const bob = (await hub.hub.tokens.create({ user: 'bob' })).token;
    for (const token of [hub.token, bob]) {
      const client = new Client({ name: 'caller', version: '1.0.0' }, { capabilities: {}, versionNegotiation: { mode: 'legacy' } });
      await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      expect(await client.callTool({ name: 'w__noop', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'ok' }] });
      await client.close();
    }
    // The hub's own session and alice's and bob's.
    expect(server.open()).toBe(3);
    await hub.stop();
    expect(server.open()).toBe(0);
    expect(server.deletes.map((h) => [h['authorization'], typeof h['mcp-session-id']])).toEqual(Array(3).fill(['Bearer downstream-secret', 'string']));
  });

  it('is deleted when its connection is closed alone, as an idle identity’s is', async () => {
    const server = await downstream();
    const { source, warnings } = connection(server.url);
    await source.start();
    expect(source.status().state).toBe('ready');
    expect(server.open()).toBe(1);
    await source.stop();
    expect(server.open()).toBe(0);
    expect(server.deletes).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('holds the close about a second at most when the server does not answer the DELETE', async () => {
    const server = await downstream('hang');
    const { source } = connection(server.url);
    await source.start();
    const began = performance.now();
    await source.stop();
    expect(server.deletes).toHaveLength(1);
    expect(performance.now() - began).toBeLessThan(1_800);
  });

  it('takes a 405 (the server does not allow DELETE) silently', async () => {
    const server = await downstream(405);
    const { source, warnings } = connection(server.url);
    await source.start();
    await source.stop();
    expect(server.deletes).toHaveLength(1);
    expect(source.status().state).toBe('stopped');
    expect(warnings).toEqual([]);
  });

  it('does not follow a redirect of the DELETE to another origin', async () => {
    const elsewhere = await downstream();
    const server = await downstream({ redirectTo: elsewhere.url });
    const { source } = connection(server.url);
    await source.start();
    await source.stop();
    expect(server.deletes).toHaveLength(1);
    expect(elsewhere.requests).toBe(0);
  });
});
