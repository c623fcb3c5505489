/**
 * `switchboard agents list | canary` as users run them: the built CLI in its own process, beside a
 * running hub (in this process) that serves the sandbox marketplace and its /metrics on loopback.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runCli, startHub, tmpDir, type RunningHub } from '../helpers/hub.js';

async function mcpClient(hub: RunningHub): Promise<Client> {
  const c = new Client({ name: 'agents-cli-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  return c;
}

const TICKETS = [
  { input: { ticket_subject: 'Refund', ticket_body: 'I was charged twice on my invoice' }, expect: { category: 'billing' } },
  { input: { ticket_subject: 'Crash', ticket_body: 'The app shows error 500 on save' }, expect: { category: 'bug', priority: 'high' } },
  { input: { ticket_subject: 'Idea', ticket_body: 'Could you add dark mode?' }, expect: { category: 'feature' } },
  { input: { ticket_subject: 'Hours', ticket_body: 'When are you open?' }, expect: { '$.category': 'question', "$['priority']": 'normal' }, name: 'paths' },
];

describe('switchboard agents, on the default config (the sandbox agents)', () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tmpDir>;
  let cases: string;
  const cli = (...args: string[]) => runCli(['agents', ...args, '--data', join(dir.path, 'data'), '--port', String(hub.port)], dir.path);

  beforeAll(async () => {
    dir = tmpDir();
    // The embedded defaults, as a CLI run in a folder without a config file reads them.
    const { config } = loadConfig({ cwd: dir.path });
    hub = await startHub({ integrations: { sandbox: {} }, agents: config.agents });
    const c = await mcpClient(hub);
    try {
      await c.callTool({ name: 'agent__echo', arguments: { input: 'one' } });
      await c.callTool({ name: 'agent__echo', arguments: { input: 'two' } });
      await c.callTool({ name: 'agent__support_triage', arguments: TICKETS[0]!.input });
      // An async call: its agent's answer is counted when the callback lands, before the call returns.
      await c.callTool({ name: 'agent__echo_async', arguments: { input: 'three' } });
    } finally {
      await c.close();
    }
    cases = join(dir.path, 'cases.jsonl');
    // The last case's expectation holds for neither version: both pass 3 of 4.
    const wrong = { input: TICKETS[0]!.input, expect: { category: 'bug' } };
    writeFileSync(cases, [...TICKETS.slice(0, 3), wrong].map((t) => JSON.stringify(t)).join('\n'));
  });

  afterAll(async () => {
    await hub?.stop();
    dir?.remove();
  });

  it('list: protocol, pinned version, mode, breaker and recent error rate of each agent', async () => {
    const r = await cli('list');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^AGENT\s+PROTOCOL\s+VERSION\s+MODE\s+BREAKER\s+ERRORS \(5 MIN\)$/),
      expect.stringMatching(/^echo\s+upagents\s+echo_v1\s+sync\s+closed\s+0\/2 \(0\.0%\)$/),
      expect.stringMatching(/^support_triage\s+upagents\s+support_triage_v4\s+sync\s+closed\s+0\/1 \(0\.0%\)$/),
      expect.stringMatching(/^writer\s+upagents\s+writer_v2\s+stream\s+closed\s+no calls$/),
      expect.stringMatching(/^echo_async\s+upagents\s+echo_v1\s+async\s+closed\s+0\/1 \(0\.0%\)$/),
      expect.stringMatching(/^memory\s+kore\s+memory_v1\s+sync\s+closed\s+no calls$/),
      expect.stringMatching(/^storyteller\s+kore\s+storyteller_v1\s+stream\s+closed\s+no calls$/),
      expect.stringMatching(/^forecast\s+http\s+forecast_v1\s+sync\s+closed\s+no calls$/),
    ]);
    const json = await cli('list', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      hub: { reachable: true },
      agents: [
        { agent: 'echo', protocol: 'upagents', version: 'echo_v1', mode: 'sync', breaker: 'closed', recentRequests: 2, recentErrors: 0, recentErrorRate: 0 },
        { agent: 'support_triage', version: 'support_triage_v4' },
        { agent: 'writer', mode: 'stream', recentRequests: 0, recentErrorRate: null },
        { agent: 'echo_async', mode: 'async', recentRequests: 1, recentErrors: 0 },
        { agent: 'memory', protocol: 'kore', version: 'memory_v1', mode: 'sync' },
        { agent: 'storyteller', protocol: 'kore', mode: 'stream' },
        { agent: 'forecast', protocol: 'http', version: 'forecast_v1', mode: 'sync' },
      ],
    });
  });

  it('list with no hub answering: the config still lists, breaker and errors unknown, said on stderr', async () => {
    const r = await runCli(['agents', 'list', '--data', join(dir.path, 'data'), '--port', '1'], dir.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^echo\s+upagents\s+echo_v1\s+sync\s+unknown\s+-$/m);
    expect(r.stderr).toContain('breaker and error rate unknown: no hub answers at http://127.0.0.1:1/metrics');
  });

  it('canary: a candidate as good as the pinned version meets the threshold (exit 0), with progress, pass rates and latency', async () => {
    const r = await cli('canary', 'support_triage', '--candidate', 'support_triage_v4+latency-ms=40', '--cases', cases);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('canary support_triage: 4 case(s)');
    expect(lines[1]).toMatch(/^pinned\s+support_triage_v4\s+3\/4\s+75\.0%\s+p50\s+\d+ ms\s+p95\s+\d+ ms$/);
    expect(lines[2]).toMatch(/^candidate\s+support_triage_v4\+latency-ms=40\s+3\/4\s+75\.0%\s+p50\s+\d+ ms\s+p95\s+\d+ ms$/);
    expect(lines[3]).toMatch(/^candidate MEETS the threshold: 75\.0% >= 71\.[23]% \(0\.95 x the pinned pass rate\)$/);
    const p50 = (line: string) => Number(/p50\s+(\d+) ms/.exec(line)![1]);
    expect(p50(lines[2]!)).toBeGreaterThanOrEqual(40);
    expect(p50(lines[1]!)).toBeLessThan(p50(lines[2]!));
    // One progress line per case, as it goes, naming why a case failed.
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('case '));
    expect(progress).toHaveLength(4);
    expect(progress[3]).toMatch(
      /^case 4\/4 \(line 4\): pinned FAIL \d+ ms \(category: expected "bug", got "billing"\); candidate FAIL \d+ ms \(category: expected "bug", got "billing"\)$/,
    );
  });

  it('canary: a candidate whose output breaks the schema does not meet it (exit 1)', async () => {
    const r = await cli('canary', 'support_triage', '--candidate', 'support_triage_v4+output=invalid', '--cases', cases, '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ agent: 'support_triage', meets: false, pinned: { passed: 3, total: 4 }, candidate: { passed: 0, total: 4, passRate: 0 } });
    expect(out.cases[0].candidate.why).toMatch(/^the output does not match the output schema/);
    expect(out.candidate.p50Ms).toEqual(expect.any(Number));
    // In text, a candidate that passes nothing says so, not "0.0% < …".
    const text = await cli('canary', 'support_triage', '--candidate', 'support_triage_v4+output=invalid', '--cases', cases);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('candidate DOES NOT MEET the threshold: it passed no case');
  });

  it('canary with no hub where the sandbox agent lives: nothing compared, exit 2 (not a failed candidate)', async () => {
    const r = await runCli(
      ['agents', 'canary', 'support_triage', '--candidate', 'support_triage_v4', '--cases', cases, '--data', join(dir.path, 'data'), '--port', '1'],
      dir.path,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('agent support_triage could not be reached on any case, so nothing was compared.');
    expect(r.stderr).toContain('needs the hub running at http://127.0.0.1:1');
  });

  it('canary: the threshold decides (3 of 4 against 4 of 4: meets 0.7, not 0.8)', async () => {
    const good = join(dir.path, 'good.jsonl');
    writeFileSync(good, `${TICKETS.map((t) => JSON.stringify(t)).join('\n')}\n`);
    // The candidate's first request answers 400 (not retried); the rest answer.
    const candidate = () => `support_triage_v4+fail=400+fail-times=1+fail-key=${randomUUID()}`;
    const loose = await cli('canary', 'support_triage', '--candidate', candidate(), '--cases', good, '--threshold', '0.7');
    expect(loose.stdout).toContain('candidate MEETS the threshold: 75.0% >= 70.0% (0.7 x the pinned pass rate)');
    expect(loose.code).toBe(0);
    const strict = await cli('canary', 'support_triage', '--candidate', candidate(), '--cases', good, '--threshold', '0.8');
    expect(strict.stdout).toMatch(/^pinned\s+support_triage_v4\s+4\/4\s+100\.0%/m);
    expect(strict.stdout).toContain('candidate DOES NOT MEET the threshold: 75.0% < 80.0% (0.8 x the pinned pass rate)');
    expect(strict.code).toBe(1);
  });

  it('canary of a streamed agent: `$` names the whole output', async () => {
    const file = join(dir.path, 'writer.jsonl');
    const text = 'Here is a short note on queues. 1 words were given; each is taken in turn, and this sentence closes the note.';
    writeFileSync(file, `${JSON.stringify({ input: { input: 'queues' }, expect: { $: text } })}\n`);
    const r = await cli('canary', 'writer', '--candidate', 'writer_v2+token-ms=0', '--cases', file);
    expect(r.stdout).toMatch(/^candidate\s+writer_v2\+token-ms=0\s+1\/1\s+100\.0%/m);
    expect(r.code).toBe(0);
  });

  it.each([
    ['a line that is not JSON', ['{"input": {"ticket_subject": "a", "ticket_body": "b"}}', '{"input": '], /cases\.jsonl:2: not JSON/],
    ['a line without input', ['{"expect": {"category": "bug"}}'], /cases\.jsonl:1: input: .*\(a case is \{"input"/],
    ['an input outside the schema', ['', '{"input": {"ticket_subject": "only a subject"}}'], /cases\.jsonl:2: the input does not fit the agent's input schema/],
    ['an empty file', [''], /no cases/],
  ])('canary: %s is bad input (exit 2), naming the line', async (_what, lines, message) => {
    const file = join(dir.path, 'bad', `${randomUUID()}`, 'cases.jsonl');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, lines.join('\n'));
    const r = await cli('canary', 'support_triage', '--candidate', 'support_triage_v5', '--cases', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it.each([
    ['no candidate', ['canary', 'support_triage', '--cases', 'x.jsonl'], /usage: switchboard agents canary/],
    [
      'an unknown agent',
      ['canary', 'nobody', '--candidate', 'v2', '--cases', 'x.jsonl'],
      /no agent nobody in the config \(agents: echo, support_triage, writer, echo_async, memory, storyteller, forecast\)/,
    ],
    ['a threshold above 1', ['canary', 'echo', '--candidate', 'echo_v2', '--cases', 'x.jsonl', '--threshold', '1.5'], /--threshold 1\.5: use a number up to 1/],
    ['a latest candidate', ['canary', 'echo', '--candidate', 'echo@latest', '--cases', 'x.jsonl'], /follows a latest alias/],
    [
      'an async agent',
      ['canary', 'echo_async', '--candidate', 'echo_v2', '--cases', 'x.jsonl'],
      /agent echo_async runs async: .*canary a sync or stream agent/,
    ],
    ['a missing cases file', ['canary', 'echo', '--candidate', 'echo_v2', '--cases', 'missing.jsonl'], /--cases missing\.jsonl: .*ENOENT/],
    ['an unknown subcommand', ['bogus'], /usage: switchboard agents list/],
  ])('%s is bad usage (exit 2)', async (_what, args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(message);
  });
});

describe('switchboard agents list, after failures', () => {
  let hub: RunningHub;
  let dir: ReturnType<typeof tmpDir>;
  const SB = { protocol: 'upagents', baseUrl: '/sandbox/marketplace/v1', apiKey: 'ua_sandbox_local' };
  const agents = {
    flaky: { ...SB, agentId: 'echo_v1+fail=503', retries: 0, fallback: 'steady' },
    steady: { ...SB, agentId: 'echo_v1' },
    parked: { ...SB, agentId: 'echo_v1', disabled: true },
  };

  beforeAll(async () => {
    dir = tmpDir();
    hub = await startHub({ integrations: { sandbox: {} }, agents });
    writeFileSync(join(dir.path, 'switchboard.config.json'), JSON.stringify({ server: { port: hub.port }, agents }));
    const c = await mcpClient(hub);
    try {
      for (let i = 0; i < 6; i++) await c.callTool({ name: 'agent__flaky', arguments: { input: `x${i}` } });
    } finally {
      await c.close();
    }
  });

  afterAll(async () => {
    await hub?.stop();
    dir?.remove();
  });

  it("shows the open breaker and the error rate; the fallback's answers count for it", async () => {
    const r = await runCli(['agents', 'list', '--data', join(dir.path, 'data')], dir.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flaky\s+upagents\s+echo_v1\+fail=503\s+sync\s+open\s+6\/6 \(100\.0%\)$/m);
    expect(r.stdout).toMatch(/^steady\s+upagents\s+echo_v1\s+sync\s+closed\s+0\/6 \(0\.0%\)$/m);
    expect(r.stdout).toMatch(/^parked\s+upagents\s+echo_v1\s+sync\s+disabled\s+-$/m);
  });
});
