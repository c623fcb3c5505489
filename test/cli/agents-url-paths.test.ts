/**
 * `agents list --url` given the URL a client uses (`<hub>/mcp`) or the metrics URL itself
 * (`<hub>/metrics`) scraped `<that>/metrics`, a 404, and showed every breaker as unknown: both name
 * the hub, and its /metrics is read.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runCli, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

const listing = z.object({ hub: z.object({ url: z.string(), reachable: z.boolean() }), agents: z.array(z.object({ agent: z.string(), breaker: z.string() })) });

let dir: ReturnType<typeof tmpDir>;
let hub: RunningHub;
let config: string;
beforeAll(async () => {
  dir = tmpDir('switchboard-agents-url-paths-');
  const agents = { triage: { protocol: 'upagents', baseUrl: 'http://127.0.0.1:9/v1', agentId: 'agent_x_v1', apiKey: 'k', mode: 'sync' } };
  config = join(dir.path, 'switchboard.config.json');
  writeFileSync(config, JSON.stringify({ server: { port: 0 }, agents }));
  hub = await startHub({ agents });
});
afterAll(async () => {
  await hub?.stop();
  dir?.remove();
});

describe('agents list --url with a path', () => {
  it.each([['/mcp'], ['/metrics'], ['/metrics/'], ['']])("<hub>%s reads the hub's /metrics", async (path) => {
    const base = `http://127.0.0.1:${hub.port}`;
    const r = await runCli(['agents', 'list', '--json', '--url', `${base}${path}`, '--config', config], dir.path);
    expect(r.code).toBe(0);
    const out = listing.parse(JSON.parse(r.stdout));
    expect(out.hub).toEqual({ url: `${base}/metrics`, reachable: true });
    expect(out.agents).toEqual([expect.objectContaining({ agent: 'triage', breaker: 'closed' })]);
  });
});
