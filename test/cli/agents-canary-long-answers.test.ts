/**
 * `agents canary` waits for an answer as the hub does (README, Agents: "with the agent's timeout and
 * retries"): `timeoutMs` bounds each attempt, a stream's each silence, not the whole case. A
 * candidate that streams for longer than timeoutMs × (retries + 2) with no silence that long, or
 * whose retry waits out a Retry-After, passes; both were cut off ("The operation was aborted due to
 * timeout") and the candidate was judged not to meet the threshold (exit 1), though the hub answers
 * its calls. Our own upagents agent on loopback, the built CLI.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('agents canary: answers that take longer than one timeout in all', () => {
  let agent: Server;
  let dir: ReturnType<typeof tmpDir>;
  let config: string;
  let cases: string;
  let busy = 0;

  beforeAll(async () => {
    agent = createServer((req, res) => {
      req.resume();
      req.on('end', async () => {
        const url = req.url ?? '';
        if (url.includes('/agents/long_v2/')) {
          // Four tokens 200 ms apart: each silence is within the 300 ms timeout, the whole is not.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const word of ['one ', 'two ', 'three ', 'four']) {
            res.write(`event: token\ndata: ${JSON.stringify({ content: word })}\n\n`);
            await new Promise((r) => setTimeout(r, 200));
          }
          return void res.end('event: complete\ndata: {}\n\n');
        }
        if (url.includes('/agents/busy_v2/') && busy++ % 2 === 0) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
          return void res.end('{"error":"busy"}');
        }
        if (url.includes('/agents/long_v1/')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return void res.end('event: token\ndata: {"content":"one two three four"}\n\nevent: complete\ndata: {}\n\n');
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_id: 't1', status: 'completed', output: { category: 'billing' } }));
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}/v1`;
    dir = tmpDir();
    config = join(dir.path, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        agents: {
          writer: { protocol: 'upagents', baseUrl, agentId: 'long_v1', apiKey: 'ua_test_key', mode: 'stream', timeoutMs: 300, retries: 0 },
          triage: { protocol: 'upagents', baseUrl, agentId: 'busy_v1', apiKey: 'ua_test_key', timeoutMs: 200, retries: 1 },
        },
      }),
    );
    cases = join(dir.path, 'cases.jsonl');
    writeFileSync(cases, `${JSON.stringify({ input: { input: 'x' } })}\n`);
  });

  afterAll(async () => {
    await new Promise((r) => agent.close(r));
    dir.remove();
  });

  const canary = (name: string, candidate: string) =>
    runCli(['agents', 'canary', name, '--candidate', candidate, '--cases', cases, '--config', config, '--data', join(dir.path, 'data')], dir.path);

  it('a stream that talks for longer than its timeout in all, never silent that long, passes', async () => {
    const r = await canary('writer', 'long_v2');
    expect(r.stderr).toContain('candidate pass');
    expect(r.code).toBe(0);
  });

  it('a retry that waits out a Retry-After longer than the timeouts passes', async () => {
    const r = await canary('triage', 'busy_v2');
    expect(r.stderr).toContain('candidate pass');
    expect(r.code).toBe(0);
  });
});
