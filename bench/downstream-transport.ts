/**
 * The hub's client side of a proxied call, alone: CPU of this process per tools/call to the HTTP
 * fixture, through the SDK's Streamable HTTP transport and through the hub's (HubHttpTransport),
 * each under the same SDK Client and the hub's `sendToolCall`, in alternating rounds. It isolates
 * what `npm run bench:proxy` can only show inside the hub's whole CPU per call, and being one
 * process's own CPU time it moves less with other load on the machine than req/s do.
 *
 *   npm run build && node dist/bench/downstream-transport.js [--rounds 8] [--calls 2000] [--clients 10]
 */
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { HubHttpTransport } from '../src/mcp/downstream/http-transport.js';
import { CALL_HEADER } from '../src/mcp/downstream/relate.js';
import { relatingFetch } from '../src/mcp/downstream/relating-fetch.js';
import { sendToolCall } from '../src/mcp/downstream/tool-call.js';
import { startFixtureHttp } from './processes.js';
import { median, positiveArg } from './stats.js';

type Kind = 'sdk' | 'hub';

async function connect(kind: Kind, url: URL): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  const transport: Transport =
    kind === 'hub'
      ? new HubHttpTransport(url, { headers: {}, onCut: () => {} })
      : new StreamableHTTPClientTransport(url, { requestInit: { headers: {} }, fetch: relatingFetch(() => {}) });
  await client.connect(transport);
  return client;
}

let seq = 0;

/** `calls` echo calls, `clients` at a time; resolves with this process's CPU ms per call. */
async function run(client: Client, calls: number, clients: number): Promise<number> {
  const before = process.cpuUsage();
  let left = calls;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const r = await sendToolCall(client, { name: 'echo', arguments: { text: 'hi' } }, { timeout: 30_000, headers: { [CALL_HEADER]: `c${++seq}` } });
        if (r.content.length === 0) throw new Error('the fixture answered an empty echo');
      }
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / calls;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '8' }, calls: { type: 'string', default: '2000' }, clients: { type: 'string', default: '10' } },
    strict: true,
  });
  const rounds = Math.round(positiveArg('rounds', values.rounds, 100));
  const calls = Math.round(positiveArg('calls', values.calls, 1_000_000));
  const clients = Math.round(positiveArg('clients', values.clients, 200));
  const fixture = await startFixtureHttp();
  try {
    const url = new URL(fixture.url);
    const clientsOf: Record<Kind, Client> = { sdk: await connect('sdk', url), hub: await connect('hub', url) };
    for (const kind of ['sdk', 'hub'] as const) await run(clientsOf[kind], Math.min(calls, 1000), clients);
    const samples: Record<Kind, number[]> = { sdk: [], hub: [] };
    for (let round = 0; round < rounds; round++) {
      // Alternating order, so drift in the machine's load hits both transports alike.
      for (const kind of round % 2 === 0 ? (['sdk', 'hub'] as const) : (['hub', 'sdk'] as const)) {
        const ms = await run(clientsOf[kind], calls, clients);
        samples[kind].push(ms);
        process.stderr.write(`  round ${round + 1}/${rounds} ${kind} ${ms.toFixed(3)} ms CPU per call\n`);
      }
    }
    const sdk = median(samples.sdk);
    const hub = median(samples.hub);
    process.stdout.write(
      `client-side CPU per tools/call (this process; median of ${rounds} rounds × ${calls} calls, ${clients} at a time)\n` +
        `  SDK transport  ${sdk.toFixed(3)} ms\n  hub transport  ${hub.toFixed(3)} ms  (${(hub - sdk).toFixed(3)} ms, ${((hub / sdk - 1) * 100).toFixed(0)} %)\n`,
    );
    for (const c of Object.values(clientsOf)) await c.close();
  } finally {
    await fixture.child.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`downstream-transport bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
