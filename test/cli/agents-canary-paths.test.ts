/**
 * `agents canary` reading its case file: a case whose `expect` key is no JSON path is refused (exit
 * 2, naming the line and the key) before any agent is called: such a key reads nothing from any
 * output, so both versions failed the case and the candidate was judged (exit 1) on the file's
 * mistake. A file that begins with a byte order mark is read as its cases (the mark was read as
 * part of the first one, "line 1: not JSON").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('agents canary: an expect key that is no JSON path', () => {
  let agent: Server;
  let calls = 0;
  let dir: ReturnType<typeof tmpDir>;
  let config: string;

  beforeAll(async () => {
    // A upagents agent of our own answering every version with the same output.
    agent = createServer((req, res) => {
      calls += 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_id: 't1', status: 'completed', output: { category: 'billing' } }));
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const port = (agent.address() as AddressInfo).port;
    dir = tmpDir();
    config = join(dir.path, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        agents: { triage: { protocol: 'upagents', baseUrl: `http://127.0.0.1:${port}/v1`, agentId: 'triage_v1', apiKey: 'ua_test_key' } },
      }),
    );
  });

  afterAll(async () => {
    await new Promise((r) => agent.close(r));
    dir.remove();
  });

  const canary = (cases: string) =>
    runCli(['agents', 'canary', 'triage', '--candidate', 'triage_v2', '--cases', cases, '--config', config, '--data', join(dir.path, 'data')], dir.path);

  it.each(['a[', '$.', 'a..b', "$['open"])('refuses %j with exit 2 naming the line and the key, calling no agent', async (key) => {
    const cases = join(dir.path, 'cases.jsonl');
    writeFileSync(cases, `${JSON.stringify({ input: { input: 'x' } })}\n${JSON.stringify({ input: { input: 'y' }, expect: { [key]: 'billing' } })}\n`);
    calls = 0;
    const r = await canary(cases);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cases.jsonl:2: expect: ${JSON.stringify(key)} is not a JSON path`);
    expect(calls).toBe(0);
  });

  it('still judges well-formed paths (both spellings of one key pass)', async () => {
    const cases = join(dir.path, 'good.jsonl');
    writeFileSync(cases, `${JSON.stringify({ input: { input: 'x' }, expect: { category: 'billing', "$['category']": 'billing' } })}\n`);
    const r = await canary(cases);
    expect(r.stderr).not.toContain('is not a JSON path');
    expect(r.code).toBe(0);
  });

  it('reads a file that begins with a byte order mark and ends its lines with CRLF', async () => {
    const cases = join(dir.path, 'bom.jsonl');
    writeFileSync(cases, `\uFEFF${JSON.stringify({ input: { input: 'x' }, expect: { category: 'billing' } })}\r\n`);
    const r = await canary(cases);
    expect(r.stderr).not.toContain('not JSON');
    expect(r.code).toBe(0);
  });
});
