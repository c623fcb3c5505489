/**
 * `agents canary` judges an answer as the hub takes it (README, Agents: "an `output` sent as a
 * string in any mode … is read as the JSON object it spells"): a candidate whose platform sends
 * `output` as the JSON string of the object passes the output schema and the case's `expect`, as
 * its calls through the hub do. It failed every case ("the output is not a JSON object") and the
 * canary said the candidate does not meet the threshold (exit 1).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

describe('agents canary: an output sent as JSON text', () => {
  let agent: Server;
  let dir: ReturnType<typeof tmpDir>;
  let config: string;

  beforeAll(async () => {
    // triage_v1 answers with the object, triage_v2 with the same object as its JSON string.
    agent = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const output = { category: 'billing', confidence_score: 0.9 };
        const text = req.url?.includes('triage_v2') === true;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_id: 't1', status: 'completed', output: text ? JSON.stringify(output) : output }));
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const port = (agent.address() as AddressInfo).port;
    dir = tmpDir();
    config = join(dir.path, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        agents: {
          triage: {
            protocol: 'upagents',
            baseUrl: `http://127.0.0.1:${port}/v1`,
            agentId: 'triage_v1',
            apiKey: 'ua_test_key',
            outputSchema: { type: 'object', properties: { category: { type: 'string' }, confidence_score: { type: 'number' } }, required: ['category'] },
            minConfidence: { path: '$.confidence_score', min: 0.7 },
          },
        },
      }),
    );
  });

  afterAll(async () => {
    await new Promise((r) => agent.close(r));
    dir.remove();
  });

  it('passes the candidate on the object its text spells (exit 0)', async () => {
    const cases = join(dir.path, 'cases.jsonl');
    writeFileSync(
      cases,
      `${JSON.stringify({ input: { input: 'x' }, expect: { category: 'billing' } })}\n${JSON.stringify({ input: { input: 'y' }, expect: { $: { category: 'billing', confidence_score: 0.9 } } })}\n`,
    );
    const r = await runCli(
      ['agents', 'canary', 'triage', '--candidate', 'triage_v2', '--cases', cases, '--config', config, '--data', join(dir.path, 'data'), '--json'],
      dir.path,
    );
    expect(r.stderr).not.toContain('FAIL');
    const report = JSON.parse(r.stdout) as { meets: boolean; candidate: { passed: number; total: number } };
    expect(report.candidate).toMatchObject({ passed: 2, total: 2 });
    expect(report.meets).toBe(true);
    expect(r.code).toBe(0);
  });
});
