/**
 * A scrape waits for the values read before it (the breakers' shared state on Redis) only so long:
 * with Redis away each read waited on the client's reconnects, scrapes took 8 s, past many a
 * Prometheus scrape_timeout, and every metric went missing while Redis was away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';

describe('/metrics with a value that cannot be read', () => {
  let h: RunningHub;
  beforeAll(async () => {
    h = await startHub();
  });
  afterAll(() => h.stop());

  it('answers with the last values, in time, while a refresher never settles', async () => {
    h.hub.metrics.setSourceUp('kept', true);
    // Shared state whose read never comes back, as a Redis that does not answer.
    h.hub.metrics.beforeScrape(() => new Promise<void>(() => {}));
    const started = performance.now();
    const res = await fetch(h.url.replace(/\/mcp$/, '/metrics'), { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(text).toContain('switchboard_source_up{source="kept"} 1');
  });
});
