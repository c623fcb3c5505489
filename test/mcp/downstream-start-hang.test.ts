/**
 * A stdio server that starts but never answers the handshake (it waits on a prompt, a lock, a
 * slow download) is shown as that, with how long the hub waited, where /readyz, doctor and the log
 * said only the SDK's bare "Request timed out".
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { DownstreamSource } from '../../src/mcp/downstream/source.js';
import { HubMetrics } from '../../src/observability/metrics.js';

describe('a stdio server that never answers its handshake', () => {
  it('is shown as not answering within the wait', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const silent = 'process.stdin.resume(); setInterval(() => {}, 1e9);';
    const config = configSchema.parse({ integrations: {}, mcpServers: { s: { command: process.execPath, args: ['-e', silent] } } }).mcpServers['s']!;
    const source = new DownstreamSource({
      name: 's',
      config,
      clock: systemClock,
      log: pino({ level: 'warn' }, sink),
      metrics: new HubMetrics(),
      connectTimeoutMs: 500,
    });
    try {
      await source.start();
      const said = "could not connect: the server did not answer the hub's handshake or first lists within 0.5 s (Request timed out)";
      expect(source.status().detail?.replace(/; restarting in \d+ ms$/, '')).toBe(said);
      expect(lines.find((l) => l['msg'] === 'downstream server failed to start')?.['detail']).toBe(said);
    } finally {
      await source.stop();
    }
  });
});
