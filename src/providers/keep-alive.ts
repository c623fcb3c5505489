import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable, Transform } from 'node:stream';
import { lazyRequire, nodeHttp, nodeHttps } from '../lazy-require.js';

// On first use, like node:http and node:https: nothing at start decodes a body.
const zlib = lazyRequire<typeof import('node:zlib')>('node:zlib');

/**
 * node:http's keep-alive agents as the hub's hot client paths use them (the node fetch of
 * src/providers/node-fetch.ts and the downstream tools/call POST of src/mcp/downstream/http-post.ts):
 * an idle connection is kept for the server's `Keep-Alive: timeout` hint less a second (undici's
 * rule, which node:http's agent applies itself for a hint below its timeout), or `idleMs` without
 * a hint, so a reused connection is not one the server is closing.
 */
export interface KeepAlivePool {
  /** The scheme's agent, made on its first request. */
  agent(protocol: 'http:' | 'https:'): HttpAgent;
  /** Notes whether the answer on `res`'s socket gave a hint; call it when its headers arrive. */
  noteHint(res: IncomingMessage): void;
}

export function keepAlivePool(opts: { maxSockets: number; idleMs: number }): KeepAlivePool {
  // The agent's timeout caps a hint (undici's keepAliveMaxTimeout); below it node:http applies the hint itself.
  const agentOpts = { keepAlive: true, timeout: 600_000, maxSockets: opts.maxSockets };
  const hinted = new WeakSet<Socket>();
  const made: { 'http:'?: HttpAgent; 'https:'?: HttpAgent } = {};
  const make = (protocol: 'http:' | 'https:'): HttpAgent => {
    const agent = protocol === 'https:' ? new (nodeHttps().Agent)(agentOpts) : new (nodeHttp().Agent)(agentOpts);
    // Typed as void in @types/node, it answers whether the socket may be kept (node:http's docs).
    const keep = agent.keepSocketAlive.bind(agent) as unknown as (socket: Socket) => boolean;
    agent.keepSocketAlive = ((socket: Socket) => {
      const kept = keep(socket);
      if (kept && !hinted.has(socket)) socket.setTimeout(opts.idleMs);
      return kept;
    }) as unknown as HttpAgent['keepSocketAlive'];
    return agent;
  };
  return {
    agent: (protocol) => (made[protocol] ??= make(protocol)),
    noteHint(res) {
      if (/^timeout=\d+/.test(String(res.headers['keep-alive'] ?? ''))) hinted.add(res.socket);
      else hinted.delete(res.socket);
    },
  };
}

/** Content codings fetch undoes (RFC 9110 §8.4.1); one it does not know is left as it is. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: () => zlib().createGunzip(),
  'x-gzip': () => zlib().createGunzip(),
  deflate: () => zlib().createInflate(),
  br: () => zlib().createBrotliDecompress(),
};

/** The body with its content coding undone, as fetch does (one coding; a list of several is left as it is). */
export function decodedBody(r: IncomingMessage): Readable {
  const make = DECODERS[(r.headers['content-encoding'] ?? '').trim().toLowerCase()];
  if (make === undefined) return r;
  const decoder = make();
  r.once('error', (err) => decoder.destroy(err));
  // A reader that stops early destroys the decoder: the socket under it must not stay half-read.
  decoder.once('close', () => {
    if (!r.complete) r.destroy();
  });
  return r.pipe(decoder);
}
