/**
 * A hub that stops gives back at once the writes still waiting for their pacing token (README,
 * Outbound writes: such a job is unsent, and a stopping hub leaves it queued for the next process).
 * Their token would come within the worker's stop grace: held for it, the stopping hub would send
 * the write itself, where a supervisor's SIGKILL can cut it mid-request. A real hub on loopback, a
 * real MCP client, the token-bucket API's own trace as the witness of what was sent.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BucketApi, notesIntegration, startBucketApi } from '../fixtures/bucket-api.js';
import { connectClient, type FaceClient, textOf } from '../helpers/clients.js';
import { eventually, type RunningHub, startHub } from '../helpers/hub.js';

const jobRow = z.object({ state: z.string(), attempts: z.number(), lease_owner: z.string().nullable(), text: z.string() });

describe('a hub stopping while a write waits for its pacing token', () => {
  let api: BucketApi;
  let hub: RunningHub;
  let client: FaceClient;

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 10, trace: true });
    hub = await startHub({
      // The second write's token comes 4 s after the first's: well within the 15 s stop grace.
      integrations: { notes: notesIntegration(api, { rateLimit: { perApp: { perSecond: 0.25, burst: 1 } } }) },
      outbox: { waitMs: 30_000 },
    });
    client = await connectClient('v2-auto', { transport: 'http', url: hub.url, token: hub.token });
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    await api?.close();
  });

  /** Read from the file: the stopped hub has closed its own handle. */
  const jobs = () => {
    const db = new Database(join(hub.dataDir, 'switchboard.db'), { readonly: true });
    try {
      return z
        .array(jobRow)
        .parse(db.prepare("SELECT state, attempts, lease_owner, json_extract(args, '$.text') AS text FROM outbox_jobs ORDER BY text").all());
    } finally {
      db.close();
    }
  };

  it('leaves it queued and unsent, stops without waiting for the token, and tells the caller so', { timeout: 60_000 }, async () => {
    expect((await client.callTool('notes__create', { text: 'a-first' })).isError).toBe(false);
    const waiting = client.callTool('notes__create', { text: 'b-held' });
    // Claimed by the worker (leased) and waiting inside the pacer: still queued.
    await eventually(() => jobs().find((j) => j.text === 'b-held' && j.state === 'queued' && j.lease_owner !== null));

    const t0 = performance.now();
    await hub.hub.stop();
    const stopMs = performance.now() - t0;

    const told = await waiting;
    expect(told.isError).toBe(false);
    expect(told.structuredContent).toMatchObject({ state: 'queued' });
    expect(textOf(told)).toContain('queue__job_status');
    expect(api.arrivals.map((a) => (JSON.parse(a.body) as { text: string }).text)).toEqual(['a-first']);
    expect(jobs()).toEqual([
      { state: 'done', attempts: 1, lease_owner: null, text: 'a-first' },
      { state: 'queued', attempts: 0, lease_owner: null, text: 'b-held' },
    ]);
    // Not held for the token (4 s away), let alone the grace.
    expect(stopMs).toBeLessThan(3_000);
  });
});
