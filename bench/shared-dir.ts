/**
 * Queued writes from hubs sharing one data dir: `--hubs` (2) `switchboard serve` processes on one
 * SQLite data dir, `--clients` (10) MCP clients on each, `--writes` (200) `notes__create` calls
 * against the token-bucket API on loopback (20/s, burst 5; it announces X-RateLimit-* and answers
 * 429 past its bucket). Each worker takes jobs from the one queue, so a caller's write is often sent
 * by the other process. Prints the time from the first call to the last answer beside the ideal
 * (the burst at once, the rest at the rate), the API's 429 count and the writes applied. The hubs
 * share their buckets through the data dir's SQLite file, or with `--redis URL` through Redis.
 * `--quiet-api`: the API sends no X-RateLimit-* headers (it announces nothing until its 429), so
 * only the declared buckets pace.
 *
 *   npm run bench:shared-dir -- [--hubs 2] [--clients 10] [--writes 200] [--redis redis://127.0.0.1:6379] [--quiet-api]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { notesIntegration, startBucketApi } from '../test/fixtures/bucket-api.js';
import { CLI, type Child, spawnNode, waitForLine } from './processes.js';
import { positiveArg } from './stats.js';

const RATE = { perSecond: 20, burst: 5 };

const { values } = parseArgs({
  options: {
    hubs: { type: 'string', default: '2' },
    clients: { type: 'string', default: '10' },
    writes: { type: 'string', default: '200' },
    redis: { type: 'string' },
    'quiet-api': { type: 'boolean', default: false },
  },
  strict: true,
});
const hubs = Math.round(positiveArg('hubs', values.hubs, 8));
const perHub = Math.round(positiveArg('clients', values.clients, 100));
const writes = Math.round(positiveArg('writes', values.writes, 100_000));

const api = await startBucketApi({ ...RATE, echo: true, rateHeaders: !values['quiet-api'] });
const dir = mkdtempSync(join(tmpdir(), 'switchboard-shared-dir-'));
const config = join(dir, 'switchboard.config.json');
const data = join(dir, 'data');
writeFileSync(
  config,
  JSON.stringify({
    integrations: { notes: notesIntegration(api, { rateLimit: { perApp: RATE } }) },
    outbox: { waitMs: 120_000 },
    ...(values.redis ? { redis: { url: values.redis, keyPrefix: `bench-shared-dir-${process.pid}:` } } : {}),
  }),
);

const children: Child[] = [];
const clients: Client[] = [];
try {
  const urls: string[] = [];
  for (let i = 0; i < hubs; i++) {
    const child = spawnNode([CLI, 'serve', '--config', config, '--data', data, '--port', '0']);
    children.push(child);
    urls.push(await waitForLine(child, (line) => /serving MCP at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(line)?.[1], 30_000, `hub ${i + 1}`));
    process.stderr.write(`hub ${i + 1} serving at ${urls.at(-1)}\n`);
  }
  const made = execFileSync(process.execPath, [CLI, 'tokens', 'create', '--user', 'alice', '--config', config, '--data', data]).toString();
  const token = /(sbt_[A-Za-z0-9_-]+)/.exec(made)?.[1];
  if (!token) throw new Error(`no token in: ${made}`);
  for (const url of urls)
    for (let i = 0; i < perHub; i++) {
      const c = new Client({ name: 'bench-shared-dir', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      clients.push(c);
    }
  process.stderr.write(`${writes} writes from ${clients.length} clients…\n`);
  const started = performance.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    clients.map(async (c) => {
      for (let n = next++; n < writes; n = next++) {
        const r = await c.callTool({ name: 'notes__create', arguments: { text: `w${n}` } }, { timeout: 300_000 });
        if (r.isError) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const ideal = (writes - RATE.burst) / RATE.perSecond;
  console.log(
    `${hubs} hubs on one data dir${values.redis ? ' sharing Redis' : ', no Redis'}${values['quiet-api'] ? ', an API without rate headers' : ''}: ${writes} writes in ${seconds.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, ×${(seconds / ideal).toFixed(2)}); ` +
      `429 from the API: ${api.stats.tooMany}; applied ${api.stats.applied}; failed calls ${failed}`,
  );
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await Promise.all(children.map((c) => c.stop()));
  await api.close();
  // The hubs may still be closing the store: a failed removal leaves a temp dir, nothing else.
  setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2_000).unref();
}
