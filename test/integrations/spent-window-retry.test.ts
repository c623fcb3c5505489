/**
 * A read answered 429 (or 5xx) with a spent rate-limit window and no Retry-After, as GitHub answers
 * its primary limit (`X-RateLimit-Remaining: 0`, `X-RateLimit-Reset` in epoch seconds): the reset is
 * the wait. Past `api.maxRetryAfterMs` the answer is the caller's at once, one request sent; within
 * it, the read is tried again at the reset, not after a short backoff into the still-spent window.
 * Through real MCP clients of both eras against a provider on loopback.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, waitsHub, type LocalApi } from '../helpers/local-api.js';

/** Seconds from now to the window's reset, per path; a second request to `/soon` is served. */
const RESET_IN: Record<string, number> = { '/api/later': 1800, '/api/soon': 20 };

let hits: string[] = [];
const spent = (res: ServerResponse, status: number, inSeconds: number) =>
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'x-ratelimit-limit': '60',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + inSeconds),
    })
    .end('{"message":"API rate limit exceeded"}');

const read = (path: string) => ({ description: path, method: 'GET', path, readOnly: true, input: { type: 'object', properties: {} } });

describe('a read refused for a spent rate-limit window', () => {
  let api: LocalApi;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  /** The waits between attempts, recorded, not slept. */
  const sleeps: number[] = [];

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      if (path === '/api/ok') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (path === '/api/soon' && hits.filter((p) => p === path).length > 1) return void res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      const status = path === '/api/later503' ? 503 : 429;
      spent(res, status, RESET_IN[path] ?? 1800);
    });
    hub = await waitsHub(
      { integrations: { gh: keyedIntegration(api, { later: read('/later'), later503: read('/later503'), soon: read('/soon') }) } },
      sleeps,
      clients,
    );
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await hub?.stop();
    await api?.close();
  });
  beforeEach(() => {
    hits = [];
    sleeps.length = 0;
  });

  it('whose reset is past maxRetryAfterMs: one request, the refusal at once naming when the window resets', async () => {
    for (const c of clients) {
      for (const tool of ['later', 'later503']) {
        hits = [];
        const r = await c.callTool(`gh__${tool}`, {});
        expect(r.isError, c.kind).toBe(true);
        expect(r.errorCode).toBe('source_unavailable');
        expect(JSON.stringify(r.content)).toMatch(/its rate limit resets in (1799|1800) s/);
        expect(hits, `${c.kind} ${tool}`).toEqual([`/api/${tool}`]);
      }
    }
    expect(sleeps).toEqual([]);
  });

  it('whose reset is near: tried again once the window resets, not after a backoff into it', async () => {
    const r = await clients[0]!.callTool('gh__soon', {});
    expect(r.isError).toBe(false);
    expect(hits).toEqual(['/api/soon', '/api/soon']);
    expect(sleeps).toHaveLength(1);
    // Whole epoch seconds: up to a second less than the 20 s.
    expect(sleeps[0]).toBeGreaterThan(18_000);
    expect(sleeps[0]).toBeLessThanOrEqual(20_000);
  });
});
