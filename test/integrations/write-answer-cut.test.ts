/**
 * The outbox keeps a queued write's answer up to MAX_RESULT_BODY_CHARS (64 Ki characters). A longer
 * one is kept cut there, and the caller's answer (a waiting call, queue__job_status, an MCP Task's
 * result: answerOfJob) says so, with the whole answer's length, and offers no structuredContent read
 * from the cut JSON. The write was made, so the result is no error. A local API on loopback, a real
 * hub and MCP client; bob's small answer beside alice's long one is whole and structured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerOfJob } from '../../src/integrations/outbound.js';
import { MAX_RESULT_BODY_CHARS } from '../../src/outbox/sqlite.js';
import { bearerClient } from '../helpers/clients.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { localApi, type LocalApi } from '../helpers/local-api.js';

describe("a queued write's answer longer than the outbox keeps", () => {
  let api: LocalApi;
  let hub: RunningHub;
  let bobToken: string;
  /** alice's answer: a JSON object of about 100 000 characters. */
  const long = JSON.stringify({ id: 'T1', notes: Array.from({ length: 2_000 }, (_, i) => `note ${i} `.padEnd(48, '.')) });

  beforeAll(async () => {
    api = await localApi((_req, body, res) => {
      const { title } = JSON.parse(body) as { title: string };
      res.writeHead(201, { 'content-type': 'application/json' }).end(title === 'long' ? long : JSON.stringify({ id: 'T2', title }));
    });
    hub = await startHub({
      integrations: {
        tix: {
          type: 'custom',
          title: 'Tix',
          apiBaseUrl: `${api.origin}/api`,
          auth: { type: 'apiKey', value: 'k' },
          tools: {
            create: { description: 'Creates a ticket', method: 'POST', path: '/tickets', input: { type: 'object', properties: { title: { type: 'string' } } } },
          },
        },
      },
    });
    bobToken = (await hub.hub.tokens.create({ user: 'bob' })).token;
  });
  afterAll(async () => {
    await hub?.stop();
    await api?.close();
  });

  it('says it was cut and how long the whole was, without structuredContent; the other user gets his whole', async () => {
    expect(long.length).toBeGreaterThan(MAX_RESULT_BODY_CHARS);
    const [alice, bob] = await Promise.all([bearerClient(hub.url, hub.token), bearerClient(hub.url, bobToken)]);
    try {
      const [a, b] = await Promise.all([
        alice.callTool({ name: 'tix__create', arguments: { title: 'long' } }),
        bob.callTool({ name: 'tix__create', arguments: { title: 'short' } }),
      ]);
      const notice = `Tix answered POST /tickets, but the answer was longer than the outbox keeps: below are its first ${MAX_RESULT_BODY_CHARS} of ${long.length} characters, cut there (so not read as JSON).`;
      expect(a).toMatchObject({
        content: [
          { type: 'text', text: notice },
          { type: 'text', text: long.slice(0, MAX_RESULT_BODY_CHARS) },
        ],
      });
      expect(a.isError).toBeFalsy();
      expect(a.structuredContent).toBeUndefined();
      expect(b.isError).toBeFalsy();
      expect(b.structuredContent).toEqual({ id: 'T2', title: 'short' });

      // As an MCP Task's result would give it: the same answer from the stored job.
      const jobs = await hub.hub.outbox.outbox.list({ user: 'alice' });
      const job = await hub.hub.outbox.outbox.get(jobs[0]!.id, { tenant: 'default', user: 'alice' });
      const definition = hub.hub.integrations.sources.find((s) => s.name === 'tix')!.definition;
      const again = answerOfJob(definition, job!);
      expect(again.content[0]).toEqual({ type: 'text', text: notice });
      expect(again.structuredContent).toBeUndefined();
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
