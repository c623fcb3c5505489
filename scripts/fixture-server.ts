/**
 * The conformance fixture (src/mcp/fixtures/) alone, served as an ordinary MCP server, so a hub can
 * mount it as a *downstream* server and the official suite can be run through the proxy:
 *
 *   node dist/scripts/fixture-server.js --transport stdio|http --era 2025|2026 [--port N] [--allow-host H:P]
 *
 * `--era 2026` serves both protocol eras the way the hub does (2026-07-28 plus the 2025 session
 * leg). `--era 2025` speaks only the 2025 era: a Server bound to one transport with no
 * `server/discover` probe routing (stdio), or only session-based Streamable HTTP (HTTP) — what a
 * 1.x-SDK server looks like to a client, so the hub's version negotiation falls back to
 * `initialize` as it must for such servers.
 *
 * Over HTTP it prints one JSON line on stdout once listening: `{"url": …, "token": …}` (`token`
 * only for `--era 2026`, which is served by the hub's own HTTP stack and keeps its token auth).
 * It exits when stdin closes (stdio) or on SIGTERM/SIGINT.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, type Server } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';
import { Hub } from '../src/hub.js';
import { localIdentity } from '../src/identity/identity.js';
import { BoundedEventStore } from '../src/mcp/event-store.js';
import { createHubServer } from '../src/mcp/server.js';
import type { SourceChange } from '../src/mcp/source.js';
import { createLogger } from '../src/observability/logger.js';

const argsSchema = z.strictObject({
  transport: z.enum(['stdio', 'http']),
  era: z.enum(['2025', '2026']),
  port: z.coerce.number().int().min(0).max(65535).default(0),
  'allow-host': z.array(z.string().min(1)).default([]),
});

const IDENTITY = localIdentity('fixture');

/** One 2025-era connection to a client: its server and the resources it subscribed to. */
interface LegacyPeer {
  server: Server;
  subscriptions: Set<string>;
}

function legacyPeer(hub: Hub): LegacyPeer {
  const subscriptions = new Set<string>();
  const server = createHubServer(hub.dispatcher, IDENTITY, 'legacy', {
    onSubscribe: (uri, on) => (on ? subscriptions.add(uri) : subscriptions.delete(uri)),
  });
  return { server, subscriptions };
}

/** Pushes the fixture's list changes and resource updates to every live 2025 peer. */
function announceTo(hub: Hub, peers: () => Iterable<LegacyPeer>): void {
  hub.catalog.onChange((change: SourceChange) => {
    for (const { server } of peers()) {
      const send =
        change.kind === 'tools' ? server.sendToolListChanged() : change.kind === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged();
      send.catch(() => {});
    }
  });
  hub.catalog.onResourceUpdated((uri) => {
    for (const p of peers()) if (p.subscriptions.has(uri)) p.server.sendResourceUpdated({ uri }).catch(() => {});
  });
}

/**
 * 2025 only over stdio: `server.connect` on a bare transport answers `initialize` and nothing of
 * the 2026 era (`serveStdio`, which the hub's stdio face uses, is what adds the discover probe).
 */
async function serveLegacyStdio(hub: Hub): Promise<void> {
  const peer = legacyPeer(hub);
  announceTo(hub, () => [peer]);
  await peer.server.connect(new StdioServerTransport());
}

/** 2025 only over HTTP: session-based Streamable HTTP, as SDK 1.x servers serve it. */
async function serveLegacyHttp(hub: Hub, port: number): Promise<{ server: HttpServer; url: string }> {
  const sessions = new Map<string, LegacyPeer & { transport: NodeStreamableHTTPServerTransport }>();
  announceTo(hub, () => sessions.values());
  // Host/Origin checks for a loopback bind, port-agnostic (the suite probes DNS rebinding too).
  const app = createMcpExpressApp({ host: '127.0.0.1' });
  app.all('/mcp', (req, res, next) => {
    const sid = req.get('mcp-session-id');
    const body: unknown = req.body;
    const existing = sid === undefined ? undefined : sessions.get(sid);
    if (existing) {
      existing.transport.handleRequest(req, res, body).catch(next);
      return;
    }
    if (sid === undefined && req.method === 'POST' && isInitializeRequest(body)) {
      const peer = legacyPeer(hub);
      const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new BoundedEventStore(),
        retryInterval: 1_000,
        onsessioninitialized: (id) => {
          sessions.set(id, { ...peer, transport });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
      };
      peer.server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, body))
        .catch(next);
      return;
    }
    // What the SDK's session transport answers a request it cannot place: a 2026-07-28 probe lands here.
    const [status, message] = sid === undefined ? [400, 'Bad Request: no valid session ID provided'] : [404, 'Session not found'];
    res.status(status).json({ jsonrpc: '2.0', error: { code: status === 404 ? -32001 : -32000, message }, id: null });
  });
  const server = await new Promise<HttpServer>((res, rej) => {
    const s = app.listen(port, '127.0.0.1', (err?: Error) => (err ? rej(err) : res(s)));
  });
  server.requestTimeout = 0;
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { transport: { type: 'string' }, era: { type: 'string' }, port: { type: 'string' }, 'allow-host': { type: 'string', multiple: true } },
  });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(
      `fixture-server: ${z.prettifyError(parsed.error)}\nusage: fixture-server --transport stdio|http --era 2025|2026 [--port N] [--allow-host H:P]\n`,
    );
    process.exitCode = 2;
    return;
  }
  const args = parsed.data;
  const hosts = args['allow-host'];
  const config = configSchema.parse({
    logLevel: 'silent',
    fixtures: { conformance: true },
    server: { host: '127.0.0.1', port: args.port, allowedHosts: hosts, allowedOrigins: hosts.map((h) => `http://${h}`) },
  });
  // stdout may carry the protocol: anything logged goes to stderr.
  const hub = new Hub({
    config,
    log: createLogger({ level: process.env['FIXTURE_LOG_LEVEL'] === 'debug' ? 'debug' : 'silent', destination: 2 }),
    dataDir: ':memory:',
  });
  hub.start();
  await hub.ready();

  let closeHttp: (() => void) | undefined;
  if (args.transport === 'stdio') {
    if (args.era === '2026') hub.serveStdio(IDENTITY);
    else await serveLegacyStdio(hub);
  } else if (args.era === '2026') {
    const token = (await hub.tokens.create({ user: 'fixture' })).token;
    const { url } = await hub.listen(args.port, '127.0.0.1');
    process.stdout.write(`${JSON.stringify({ url, token })}\n`);
  } else {
    const { server, url } = await serveLegacyHttp(hub, args.port);
    closeHttp = () => {
      server.closeAllConnections();
      server.close();
    };
    process.stdout.write(`${JSON.stringify({ url })}\n`);
  }

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    closeHttp?.();
    void hub.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (args.transport === 'stdio') {
    process.stdin.once('end', stop);
    process.stdin.once('close', stop);
  }
}

await main(process.argv.slice(2));
