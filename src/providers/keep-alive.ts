import { Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * node:http's keep-alive agents as the hub's hot client paths use them (the node fetch of
 * src/providers/node-fetch.ts and the downstream tools/call POST of src/mcp/downstream/http-post.ts):
 * an idle connection is kept for the server's `Keep-Alive: timeout` hint less a second (undici's
 * rule, which node:http's agent applies itself for a hint below its timeout), or `idleMs` without
 * a hint, so a reused connection is not one the server is closing.
 */
export interface KeepAlivePool {
  agents: { 'http:': HttpAgent; 'https:': HttpsAgent };
  /** Notes whether the answer on `res`'s socket gave a hint; call it when its headers arrive. */
  noteHint(res: IncomingMessage): void;
}

export function keepAlivePool(opts: { maxSockets: number; idleMs: number }): KeepAlivePool {
  // The agent's timeout caps a hint (undici's keepAliveMaxTimeout); below it node:http applies the hint itself.
  const agentOpts = { keepAlive: true, timeout: 600_000, maxSockets: opts.maxSockets };
  const hinted = new WeakSet<Socket>();
  const agents = { 'http:': new HttpAgent(agentOpts), 'https:': new HttpsAgent(agentOpts) };
  for (const agent of Object.values(agents)) {
    // Typed as void in @types/node, it answers whether the socket may be kept (node:http's docs).
    const keep = agent.keepSocketAlive.bind(agent) as unknown as (socket: Socket) => boolean;
    agent.keepSocketAlive = ((socket: Socket) => {
      const kept = keep(socket);
      if (kept && !hinted.has(socket)) socket.setTimeout(opts.idleMs);
      return kept;
    }) as unknown as HttpAgent['keepSocketAlive'];
  }
  return {
    agents,
    noteHint(res) {
      if (/^timeout=\d+/.test(String(res.headers['keep-alive'] ?? ''))) hinted.add(res.socket);
      else hinted.delete(res.socket);
    },
  };
}

/** Content codings fetch undoes (RFC 9110 §8.4.1); one it does not know is left as it is. */
const DECODERS: Readonly<Record<string, () => Transform>> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

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
