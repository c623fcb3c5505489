/**
 * GitHub's secondary rate limit answered without Retry-After (403 or 429, "You have exceeded a
 * secondary rate limit"): its docs ask for at least a minute before the next request, and warn that
 * continuing to send while limited may get the integration banned. A read waits that minute before
 * its retry (not a 250 ms backoff), or, when the integration may not wait so long, answers at once
 * with the wait, one request sent. Through real MCP clients of both eras against a provider on loopback.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaceClient } from '../helpers/clients.js';
import type { RunningHub } from '../helpers/hub.js';
import { keyedIntegration, localApi, waitsHub, type LocalApi } from '../helpers/local-api.js';

const SECONDARY =
  '{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 1:2:3.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}';

let hits: string[] = [];
const read = (path: string) => ({ description: path, method: 'GET', path, readOnly: true, input: { type: 'object', properties: {} } });
const tools = { s403: read('/s403'), s429: read('/s429') };

describe("GitHub's secondary rate limit without a Retry-After", () => {
  let api: LocalApi;
  let hub: RunningHub;
  const clients: FaceClient[] = [];
  /** The waits between attempts, recorded, not slept. */
  const sleeps: number[] = [];

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      // Limited the first time each path is asked for; served after.
      if (hits.filter((p) => p === path).length > 1 && path.startsWith('/api/'))
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      res.writeHead(path.endsWith('429') ? 429 : 403, { 'content-type': 'application/json; charset=utf-8' }).end(SECONDARY);
    });
    hub = await waitsHub(
      {
        integrations: {
          // May wait the minute: its waits end within its timeout in all.
          gh: keyedIntegration(api, tools, { api: { timeoutMs: 90_000 } }),
          // Waits at most 30 s between attempts: the minute is not waited out.
          impatient: { ...keyedIntegration(api, tools), title: 'Impatient', apiBaseUrl: `${api.origin}/short`, api: { maxRetryAfterMs: 30_000 } },
        },
      },
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

  it('is tried again a minute later, as GitHub asks, for a 403 and a 429 alike', async () => {
    for (const tool of ['s403', 's429']) {
      hits = [];
      sleeps.length = 0;
      const r = await clients[0]!.callTool(`gh__${tool}`, {});
      expect(r.isError, tool).toBe(false);
      expect({ hits, sleeps }).toEqual({ hits: [`/api/${tool}`, `/api/${tool}`], sleeps: [60_000] });
    }
  });

  it('where the integration may not wait a minute: one request, answered at once with the wait', async () => {
    for (const c of clients) {
      for (const tool of ['s403', 's429']) {
        hits = [];
        const r = await c.callTool(`impatient__${tool}`, {});
        expect(r.isError, `${c.kind} ${tool}`).toBe(true);
        expect(r.errorCode).toBe('source_unavailable');
        expect(JSON.stringify(r.content)).toContain('exceeded a secondary rate limit');
        expect(hits).toEqual([`/short/${tool}`]);
      }
    }
    expect(sleeps).toEqual([]);
  });
});
