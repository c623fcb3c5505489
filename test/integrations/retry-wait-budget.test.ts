/**
 * A tool call's waits between attempts end within `api.timeoutMs` in all: an MCP client gives up
 * after its own request timeout (60 s in the SDKs), so a read that met Slack's 429 with
 * `Retry-After: 20` three times waited 40 s and was sent three times, and the caller read "Request
 * timed out" rather than the 429 and when to retry. A wait that fits is still made. Through real MCP
 * clients of both eras against a provider on loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, waitsHub, type LocalApi } from '../helpers/local-api.js';

let hits: string[] = [];
const read = (path: string) => ({ description: path, method: 'GET', path, readOnly: true, input: { type: 'object', properties: {} } });

describe("a read's waits for the provider's Retry-After", () => {
  let api: LocalApi;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  /** The waits between attempts, recorded, not slept. */
  const sleeps: number[] = [];

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      // Slack's 429: Retry-After in seconds, `ok: false` in the body.
      const wait = path.endsWith('/busy') ? '20' : '5';
      if (path.endsWith('/brief') && hits.length > 2) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': wait }).end('{"ok":false,"error":"ratelimited"}');
    });
    // The defaults: 30 s per request, 2 retries, each Retry-After up to 60 s waited.
    hub = await waitsHub(
      { integrations: { slack: { ...keyedIntegration(api, { busy: read('/busy'), brief: read('/brief') }), title: 'Slack' } } },
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

  it('waits no more than api.timeoutMs in all, then answers with the 429 and when to retry', async () => {
    for (const c of clients) {
      hits = [];
      sleeps.length = 0;
      const r = await c.callTool('slack__busy', {});
      expect(r).toMatchObject({ isError: true, errorCode: 'source_unavailable' });
      expect(JSON.stringify(r.content)).toContain('Slack answered 429 Too Many Requests to GET /busy (retry after 20 s)');
      expect({ hits: hits.length, sleeps }, c.kind).toEqual({ hits: 2, sleeps: [20_000] });
    }
  });

  it('still waits out Retry-Afters that fit, and gets the answer', async () => {
    const r = await clients[0]!.callTool('slack__brief', {});
    expect(r.isError).toBe(false);
    expect({ hits: hits.length, sleeps }).toEqual({ hits: 3, sleeps: [5_000, 5_000] });
  });
});
