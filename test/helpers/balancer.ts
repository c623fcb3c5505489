import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer on loopback in front of hub replicas, as an operator would put one: round robin
 * per request, and with `sticky` a 2025-era session's requests go to the replica that opened it
 * (learned from the `Mcp-Session-Id` the replica answered). A replica that refuses connections is
 * skipped (nothing was sent, so the request is tried on the next one); a sticky session whose
 * replica is gone goes to another, which answers 404 so the client opens a new session.
 * Bodies and answers are streamed both ways (SSE included).
 */
export interface Balancer {
  url: string;
  /** Requests each backend received, by its base URL. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export interface BalancerOptions {
  sticky?: boolean;
}

export async function startBalancer(backends: readonly string[], opts: BalancerOptions = {}): Promise<Balancer> {
  const agent = new Agent({ keepAlive: true });
  const hits = new Map<string, number>(backends.map((b) => [b, 0]));
  const sessions = new Map<string, string>();
  let next = 0;

  const order = (req: IncomingMessage): string[] => {
    const start = next++ % backends.length;
    const rotated = [...backends.slice(start), ...backends.slice(0, start)];
    const sid = req.headers['mcp-session-id'];
    const owner = opts.sticky && typeof sid === 'string' ? sessions.get(sid) : undefined;
    return owner ? [owner, ...rotated.filter((b) => b !== owner)] : rotated;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, candidates: string[], retried = false): void => {
    const target = candidates[0];
    if (target === undefined) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no replica answered');
      return;
    }
    const url = new URL(req.url ?? '/', target);
    const upstream = request(url, { method: req.method, headers: { ...req.headers, host: url.host }, agent }, (answer) => {
      hits.set(target, (hits.get(target) ?? 0) + 1);
      const sid = answer.headers['mcp-session-id'];
      if (opts.sticky && typeof sid === 'string') sessions.set(sid, target);
      // Hop-by-hop headers describe the replica's connection, not this one (RFC 9110 §7.6.1): passed on,
      // the replica's `Keep-Alive: timeout=65` told clients to reuse connections this server closes after 5 s.
      const { connection: _c, 'keep-alive': _k, ...headers } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: the replica is down and never saw the request, so the next one may take it.
      if (err.code === 'ECONNREFUSED' && !res.headersSent) forward(req, res, body, candidates.slice(1));
      // A kept-alive connection the replica closed while idle, reused before the close was seen:
      // the replica never read the request, so it is sent once more on a new connection, as
      // Node documents (ClientRequest#reusedSocket) and as the hub's own client does.
      else if (!retried && !res.headersSent && upstream.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
        forward(req, res, body, candidates, true);
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), order(req)));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
