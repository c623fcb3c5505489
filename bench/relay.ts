/**
 * The floor of one more HTTP hop: a bare relay that passes each request to ORIGIN over a
 * kept-alive node:http agent and its answer back, piped, with no auth, no MCP and no parsing.
 * Whatever sits between an MCP client and a server (the hub, a gateway) does all this relay does
 * and its own work on top, so its CPU per call and added latency, measured in the same run, are
 * what no such hop can go below on the machine (bench/agents.ts, bench/proxy.ts).
 *
 *   node dist/bench/relay.js ORIGIN     prints {"port":N} once listening on 127.0.0.1
 */
import { Agent as HttpAgent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const target = process.argv[2];
if (!target) throw new Error('usage: relay.js ORIGIN');
const agent = new HttpAgent({ keepAlive: true });
const server = createServer((req, res) => {
  const out = request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => res.destroy());
  // A client that goes away takes the relayed exchange with it (an SSE GET would otherwise stay open).
  res.on('close', () => out.destroy());
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
