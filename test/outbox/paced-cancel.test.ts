/**
 * A write claimed by the worker and waiting for its pacing token has not been sent: it is still
 * `queued`, so the caller's MCP cancel removes it, and it never reaches the provider. A real hub on
 * loopback, a real MCP client, the token-bucket API's own trace as the witness.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { notesIntegration, startBucketApi, type BucketApi } from '../fixtures/bucket-api.js';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';

const jobRow = z.object({ id: z.string(), state: z.string(), lease_owner: z.string().nullable(), attempts: z.number() });

describe('a write waiting for its pacing token', () => {
  let api: BucketApi;
  let hub: RunningHub;
  let client: Client;

  beforeAll(async () => {
    api = await startBucketApi({ perSecond: 50, burst: 5, trace: true });
    hub = await startHub({
      integrations: {
        // One write every two seconds and no ordering key: the worker claims the second write at
        // once, and it waits inside the pacer for the token after the first one's.
        notes: notesIntegration(api, { rateLimit: { perApp: { perSecond: 0.5, burst: 1 } } }),
      },
      outbox: { waitMs: 30_000 },
    });
    client = new Client({ name: 'paced-cancel', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
    await hub?.stop();
    await api?.close();
  });

  const job = (key: string) =>
    jobRow.optional().parse(hub.hub.db.prepare('SELECT id, state, lease_owner, attempts FROM outbox_jobs WHERE idempotency_key = ?').get(key));
  const call = (text: string, key: string, signal?: AbortSignal) =>
    client.callTool({ name: 'notes__create', arguments: { text }, _meta: { 'switchboard/idempotency-key': key } }, undefined, {
      timeout: 60_000,
      ...(signal ? { signal } : {}),
    });
  const sentTexts = () => api.arrivals.map((a) => (JSON.parse(a.body) as { text: string }).text);

  it('is still queued, so an MCP cancel removes it and it is never sent; the worker goes on past it', { timeout: 60_000 }, async () => {
    const first = call('goes out', 'k-first');
    await eventually(() => job('k-first'));
    const ac = new AbortController();
    const held = call('never sent', 'k-held', ac.signal);
    held.catch(() => {}); // rejected by the abort below; asserted there

    // Claimed (leased to the worker) and waiting in the pacer: `queued`, nothing spent, nothing sent.
    const waiting = await eventually(() => {
      const j = job('k-held');
      return j?.state === 'queued' && j.lease_owner !== null ? j : undefined;
    });
    expect(waiting.attempts).toBe(0);
    expect(sentTexts()).not.toContain('never sent');

    ac.abort('the user changed their mind');
    await expect(held).rejects.toThrow();
    // The hub got notifications/cancelled and removed the job before its token came.
    await eventually(() => (job('k-held')?.state === 'cancelled' ? true : undefined));

    expect((await first).isError).toBeFalsy();
    // Queued after the cancelled one, so its token comes after the one the cancelled job was
    // granted: once it is applied, the cancelled job's send would have been seen had it happened.
    const after = await call('after it', 'k-after');
    expect(after.isError).toBeFalsy();
    expect(sentTexts()).toEqual(['goes out', 'after it']);
    expect(job('k-held')).toMatchObject({ state: 'cancelled', attempts: 0, lease_owner: null });
    expect(api.appliedByKey.has(waiting.id)).toBe(false);
  });
});
