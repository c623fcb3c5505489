import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/hub.js';

/**
 * The gauges a hub sets as it starts (its pollers, breakers, downstream servers, sessions) wait for
 * the instruments rather than make them: making them loads prom-client, which a stdio hub's first
 * tools/list answer waited for. Run in a process of its own, where nothing else loaded it.
 */
const SCRIPT = `
import { createRequire } from 'node:module';
const { HubMetrics } = await import(${JSON.stringify(`file://${join(ROOT, 'dist/src/observability/metrics.js')}`)});
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/prom-client/'));
const m = new HubMetrics({ defaultMetrics: true });
m.setPollers('notes', 'changes', { active: 2, stalled: 1 });
m.setPollers('notes', 'changes', { active: 3, stalled: 0 });
m.setBreakers([{ integration: 'notes', value: 2 }]);
m.setSourceUp('fx', true);
m.setSessions('legacy', 4);
const before = loaded();
const text = await m.registry.metrics();
console.log(JSON.stringify({ before, after: loaded(), text }));
`;

describe('metrics set as the hub starts', () => {
  it('do not load prom-client until the instruments are needed, and a scrape then shows the latest of each', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8' });
    const { before, after, text } = JSON.parse(out) as { before: boolean; after: boolean; text: string };
    expect(before).toBe(false);
    expect(after).toBe(true);
    expect(text).toMatch(/^switchboard_pollers\{integration="notes",feed="changes",state="active"\} 3$/m);
    expect(text).toMatch(/^switchboard_pollers\{integration="notes",feed="changes",state="stalled"\} 0$/m);
    expect(text).toMatch(/^switchboard_breaker_state\{integration="notes"\} 2$/m);
    expect(text).toMatch(/^switchboard_source_up\{source="fx"\} 1$/m);
    expect(text).toMatch(/^switchboard_mcp_sessions\{era="legacy"\} 4$/m);
  });
});
