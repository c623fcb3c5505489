/**
 * Where the hub cuts a provider's text for a tool error (2000 characters of a failed answer, 500 of a
 * queued write's error, a 401's body, a stored answer), it cuts on a code point boundary: an emoji
 * across the cut is left out whole, never kept as a lone UTF-16 surrogate that JSON then carries as
 * `\ud83d` and a UTF-8 encoder as U+FFFD. A local API on loopback, a real hub and MCP client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unfitResult } from '../../src/integrations/output-fit.js';
import { MAX_RESULT_BODY_CHARS, boundResult } from '../../src/outbox/sqlite.js';
import { readSome } from '../../src/providers/client.js';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

/** A UTF-16 surrogate without its other half. */
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const EMOJI = '\u{1F600}';

/** A refusal's JSON whose text has the emoji's first half at index 1999. */
const refusedPrefix = '{"ok":false,"error":"nope","pad":"';
const refused = `${refusedPrefix}${'r'.repeat(1999 - refusedPrefix.length)}${EMOJI}tail"}`;

describe("a provider's text cut for a tool error", () => {
  let api: LocalApi;
  let hub: RunningHub;

  beforeAll(async () => {
    api = await localApi((req, _body, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/api/fail') return res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${'x'.repeat(1999)}${EMOJI}tail`);
      if (path === '/api/refused') return res.writeHead(200, { 'content-type': 'application/json' }).end(refused);
      if (path === '/api/write') return res.writeHead(422, { 'content-type': 'text/plain; charset=utf-8' }).end(`${'y'.repeat(499)}${EMOJI}tail`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const read = (path: string) => ({ description: path, method: 'GET', path, readOnly: true });
    hub = await startHub({
      integrations: {
        p: {
          type: 'custom',
          title: 'P',
          apiBaseUrl: `${api.origin}/api`,
          auth: { type: 'apiKey', value: 'k' },
          refusal: { okAt: 'ok', messageAt: 'error' },
          tools: { fail: read('/fail'), refused: read('/refused'), fine: read('/fine'), write: { description: 'Writes', method: 'POST', path: '/write' } },
        },
      },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  const textOf = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]!.text;

  it('a failed answer, a 2xx refusal and a queued write refused: cut before the emoji, never inside it', async () => {
    const [alice, bob] = await Promise.all([bearerClient(hub.url, hub.token), bearerClient(hub.url, (await hub.hub.tokens.create({ user: 'bob' })).token)]);
    try {
      const [failed, refusal, write, fine] = await Promise.all([
        alice.callTool({ name: 'p__fail', arguments: {} }),
        alice.callTool({ name: 'p__refused', arguments: {} }),
        alice.callTool({ name: 'p__write', arguments: {} }),
        bob.callTool({ name: 'p__fine', arguments: {} }),
      ]);
      expect(textOf(failed)).toBe(`P answered 400 Bad Request to GET /fail: ${'x'.repeat(1999)}`);
      expect(textOf(refusal)).toBe(`P refused GET /refused (nope): ${refused.slice(0, 1999)}`);
      expect(textOf(write)).toBe(`P answered 422 Unprocessable Entity to POST /write: ${'y'.repeat(499)}${EMOJI}tail`);
      for (const r of [failed, refusal, write]) expect(textOf(r)).not.toMatch(LONE);
      expect(fine.structuredContent).toEqual({ ok: true });

      // The write's error, as queue__job_status and `queue list` show it: 500 characters of the answer, cut before the emoji.
      const [job] = await hub.hub.outbox.outbox.list({ user: 'alice' });
      expect(job).toMatchObject({ state: 'failed', lastError: `the provider answered 422: ${'y'.repeat(499)}` });
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it("a 401's body, an unfit answer and a stored answer cut at the outbox's cap: the same", async () => {
    expect(await readSome(new Response(`${'z'.repeat(499)}${EMOJI}`), 500)).toBe('z'.repeat(499));
    const unfit = unfitResult({ qualified: 'p__x', title: 'P', why: 'x', write: false }, { content: [{ type: 'text', text: `${'w'.repeat(1999)}${EMOJI}` }] });
    expect(textOf(unfit)).toBe(`p__x: P's answer does not fit the tool's output schema (x). The answer: ${'w'.repeat(1999)}`);
    const kept = boundResult({ status: 200, body: `${'a'.repeat(MAX_RESULT_BODY_CHARS - 1)}${EMOJI}b` });
    expect(kept).toMatchObject({ truncated: true, wholeChars: MAX_RESULT_BODY_CHARS + 2 });
    expect(kept.body).toBe('a'.repeat(MAX_RESULT_BODY_CHARS - 1));
  });
});
