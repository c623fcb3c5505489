import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { AgentAnswer } from '../../src/agents/adapter.js';
import { buildAgents, secretsOf } from '../../src/agents/build.js';
import type { AgentRuntime } from '../../src/agents/invoke.js';
import { AgentCallError, runWithPolicy, type PolicyDeps } from '../../src/agents/policy.js';
import { redact } from '../../src/agents/scrub.js';
import { acceptAnswer, atPath } from '../../src/agents/validate-output.js';
import { systemClock } from '../../src/clock.js';
import { publicUrlOf } from '../../src/config/public-url.js';
import { parsePath } from '../../src/definition/agent-template.js';
import { isUnpinned, type AgentConfig } from '../../src/definition/agents.js';
import { HubError, describeError } from '../../src/errors.js';
import { CircuitBreakers } from '../../src/outbox/breaker.js';
import { createProviderClient } from '../../src/providers/client.js';
import { realSleep } from '../../src/providers/deadline.js';
import { defaultBackoff } from '../../src/providers/retry.js';
import { configFromFlags, printable, progress, str, type Flags } from '../common.js';

/**
 * One case of a canary file. `expect` maps JSON paths into the output (`category`,
 * `$.scores[0].label`, `$` for the whole output) to the values they must hold (deep equality).
 */
const caseSchema = z.strictObject({
  input: z.record(z.string(), z.unknown()),
  expect: z.record(z.string(), z.unknown()).optional(),
  /** Shown in progress lines instead of the line number. */
  name: z.string().optional(),
});
type Case = z.infer<typeof caseSchema> & { line: number };

const thresholdFlag = z.coerce.number({ error: 'use a number' }).gt(0, 'use a number above 0').max(1, 'use a number up to 1');

type Side = 'pinned' | 'candidate';
interface Outcome {
  pass: boolean;
  ms: number;
  why?: string;
  /** The agent could not be reached at all (a transport failure), which says nothing of its version. */
  unreached?: true;
}

/** Reads the cases, naming the line of the first bad one; each input is checked against the agent's input schema. */
export function readCases(file: string, validate: (input: Record<string, unknown>) => void): Case[] {
  let text: string;
  try {
    // A byte order mark (an editor on Windows writes one) is no part of the first case, as the config loader reads it too.
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new HubError('invalid_params', `--cases ${file}: ${describeError(err)}`);
  }
  const cases: Case[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new HubError('invalid_params', `${file}:${line}: not JSON: ${describeError(err)}`);
    }
    const parsed = caseSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const at = issue.path.length ? `${issue.path.join('.')}: ` : '';
      throw new HubError('invalid_params', `${file}:${line}: ${at}${issue.message} (a case is {"input": {...}, "expect"?: {...}, "name"?: "..."})`);
    }
    // A key that is no JSON path reads nothing from any output: both versions would fail the case
    // and the candidate be judged on the file's mistake, so the file is refused instead.
    const badPath = Object.keys(parsed.data.expect ?? {}).find((p) => parsePath(p) === undefined);
    if (badPath !== undefined)
      throw new HubError('invalid_params', `${file}:${line}: expect: ${JSON.stringify(badPath)} is not a JSON path ($, $.a.b, items[0].name, $['odd key'])`);
    try {
      validate(parsed.data.input);
    } catch (err) {
      throw new HubError('invalid_params', `${file}:${line}: the input does not fit the agent's input schema: ${describeError(err)}`);
    }
    cases.push({ ...parsed.data, line });
  });
  if (cases.length === 0) throw new HubError('invalid_params', `${file}: no cases (one JSON object per line)`);
  return cases;
}

/** Why an answer fails the case, or undefined when it passes: an output, valid for the agent, holding what `expect` names. */
export function judge(answer: AgentAnswer, runtime: AgentRuntime, c: Case): string | undefined {
  if (answer.kind === 'agent_error') return `the agent reported ${answer.type}: ${answer.message}`;
  if (answer.kind === 'submitted') return `the agent queued the task ${answer.taskId} instead of answering`;
  // As the hub takes it (validate-output.ts): with an output schema, an `output` sent as the JSON
  // string of the object (some platforms do) is the object it spells, for the checks and `expect`.
  const accepted = acceptAnswer(runtime, runtime, answer.output);
  if ('refused' in accepted) return accepted.refused;
  for (const [path, want] of Object.entries(c.expect ?? {})) {
    const got = atPath(accepted.output, path);
    if (!isDeepStrictEqual(got, want)) return `${path}: expected ${JSON.stringify(want)}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`;
  }
  return undefined;
}

/** Nearest-rank percentile of the samples (ms). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/**
 * `agents canary <agent> --candidate <id> --cases FILE [--threshold 0.95]`: each case runs on both
 * ids, one after the other (which goes first alternates, so drift hits both), with the agent's
 * timeout and retries but no fallback and no breaker (a canary measures the version alone). The
 * candidate meets the threshold when its pass rate is at least threshold × the pinned one's
 * (seed 000, "Canary Testing New Versions"). Answers the exit code: 0 meets, 1 does not.
 */
export async function canary(positionals: string[], flags: Flags): Promise<number> {
  const [name, ...extra] = positionals;
  const candidate = str(flags['candidate']);
  const casesFile = str(flags['cases']);
  const missing = [name === undefined ? 'the agent' : '', candidate === undefined ? '--candidate' : '', casesFile === undefined ? '--cases' : ''].filter(
    Boolean,
  );
  if (name === undefined || candidate === undefined || casesFile === undefined || extra.length > 0)
    throw new HubError(
      'invalid_params',
      `${missing.length > 0 ? `agents canary needs ${missing.join(' and ')}` : `unexpected argument "${extra[0]}"`}\nusage: switchboard agents canary <agent> --candidate <agent-id> --cases cases.jsonl [--threshold 0.95]`,
    );
  const t = thresholdFlag.safeParse(str(flags['threshold']) ?? '0.95');
  if (!t.success) throw new HubError('invalid_params', `--threshold ${String(flags['threshold'])}: ${t.error.issues[0]?.message ?? 'invalid'}`);
  const threshold = t.data;
  // It calls the agents, and opens no store: the per-user data dir is not made.
  const { config } = configFromFlags(flags, { quiet: true, makeNothing: true });
  const entry = config.agents[name];
  if (entry === undefined) throw new HubError('invalid_params', `no agent ${name} in the config (agents: ${Object.keys(config.agents).join(', ') || 'none'})`);
  if (entry.protocol !== 'upagents')
    throw new HubError('invalid_params', `agent ${name} is a ${entry.protocol} agent: a canary compares agent ids, which upagents agents send`);
  if (entry.mode === 'async')
    throw new HubError(
      'invalid_params',
      `agent ${name} runs async: its answers come to a running hub's callback URL, which a canary does not wait on; canary a sync or stream agent`,
    );
  if (isUnpinned(candidate) && !entry.allowLatest)
    throw new HubError('invalid_params', `--candidate ${candidate} follows a latest alias: pin a version (or set allowLatest on the agent)`);
  const hubUrl = str(flags['url']) ?? publicUrlOf(config.server);
  const runtimes = { pinned: runtimeOf(name, entry, entry.agentId, hubUrl), candidate: runtimeOf(name, entry, candidate, hubUrl) };
  const cases = readCases(casesFile, (input) => runtimes.pinned.validateInput(input));
  const secrets = secretsOf(config.agents);
  const deps: PolicyDeps = {
    breakers: new CircuitBreakers({ threshold: Number.MAX_SAFE_INTEGER, clock: systemClock }),
    clock: systemClock,
    sleep: realSleep,
    backoffMs: defaultBackoff,
    maxRetryAfterMs: 60_000,
  };
  const ids: Record<Side, string> = { pinned: entry.agentId, candidate };
  const results: Record<Side, Outcome[]> = { pinned: [], candidate: [] };
  progress(`canary ${name}: pinned ${ids.pinned}, candidate ${ids.candidate}, ${cases.length} case(s) from ${casesFile}`);
  for (const [i, c] of cases.entries()) {
    const order: Side[] = i % 2 === 0 ? ['pinned', 'candidate'] : ['candidate', 'pinned'];
    const got = {} as Record<Side, Outcome>;
    for (const side of order) {
      const r = runtimes[side];
      const started = performance.now();
      let why: string | undefined;
      let unreached = false;
      try {
        // A session of its own per case and version: a multi-turn agent must not carry one case into the next.
        const answer = await runWithPolicy(
          name,
          entry.retries,
          r.adapter,
          // No deadline over the whole case: as in the hub, timeoutMs bounds each attempt (a stream's
          // each silence), and a stream that keeps talking or a retry waiting out its Retry-After
          // (up to 60 s) is the answer the hub would wait for.
          { input: c.input, sessionId: `canary_${randomUUID()}`, signal: new AbortController().signal },
          deps,
        );
        why = judge(answer, r, c);
      } catch (err) {
        why = err instanceof AgentCallError ? err.message : describeError(err);
        unreached = err instanceof AgentCallError && err.reason === 'transport';
      }
      const ms = performance.now() - started;
      got[side] = {
        pass: why === undefined,
        ms,
        ...(why === undefined ? {} : { why: redact(why, secrets) }),
        ...(unreached ? { unreached: true as const } : {}),
      };
      results[side].push(got[side]);
    }
    const show = (s: Side) => `${s} ${got[s].pass ? 'pass' : 'FAIL'} ${Math.round(got[s].ms)} ms${got[s].why ? ` (${got[s].why})` : ''}`;
    // An agent's error message is the remote's text.
    progress(printable(`case ${i + 1}/${cases.length} (${c.name ?? `line ${c.line}`}): ${show('pinned')}; ${show('candidate')}`));
  }
  const summary = (s: Side) => {
    const passed = results[s].filter((o) => o.pass).length;
    const ms = results[s].map((o) => o.ms);
    return { agentId: ids[s], passed, total: cases.length, passRate: passed / cases.length, p50Ms: percentile(ms, 50), p95Ms: percentile(ms, 95) };
  };
  // Neither version was reached on any case: nothing was compared, which is no verdict on the candidate.
  if ([...results.pinned, ...results.candidate].every((o) => o.unreached)) {
    const where = entry.baseUrl.startsWith('/')
      ? ` A baseUrl on the hub needs the hub running at ${hubUrl ?? '(server.port is 0)'}: start it, or pass --url of the one that runs.`
      : '';
    process.stderr.write(`switchboard: agent ${name} could not be reached on any case, so nothing was compared.${where}\n`);
    return 2;
  }
  const pinned = summary('pinned');
  const cand = summary('candidate');
  const required = pinned.passRate * threshold;
  // Both at 0 proves nothing (an agent that cannot be reached fails every case on both sides).
  const meets = cand.passed > 0 && cand.passRate >= required;
  if (flags['json']) {
    const perCase = cases.map((c, i) => ({ line: c.line, ...(c.name ? { name: c.name } : {}), pinned: results.pinned[i], candidate: results.candidate[i] }));
    process.stdout.write(`${JSON.stringify({ agent: name, threshold, required, meets, pinned, candidate: cand, cases: perCase }, null, 2)}\n`);
  } else {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const row = (label: string, s: typeof pinned) =>
      `${label.padEnd(10)}  ${s.agentId.padEnd(Math.max(pinned.agentId.length, cand.agentId.length))}  ${`${s.passed}/${s.total}`.padStart(7)}  ${pct(s.passRate).padStart(6)}  p50 ${s.p50Ms.toFixed(0).padStart(5)} ms  p95 ${s.p95Ms.toFixed(0).padStart(5)} ms`;
    process.stdout.write(
      `${[
        `canary ${name}: ${cases.length} case(s)`,
        row('pinned', pinned),
        row('candidate', cand),
        cand.passed === 0
          ? 'candidate DOES NOT MEET the threshold: it passed no case (a candidate that passes nothing never meets it)'
          : `candidate ${meets ? 'MEETS' : 'DOES NOT MEET'} the threshold: ${pct(cand.passRate)} ${meets ? '>=' : '<'} ${pct(required)} (${threshold} x the pinned pass rate)`,
      ].join('\n')}\n`,
    );
  }
  return meets ? 0 : 1;
}

/** The agent as configured but for its id, on its own: no fallback (the canary judges this version alone). */
function runtimeOf(name: string, entry: Extract<AgentConfig, { protocol: 'upagents' }>, agentId: string, hubUrl: string | undefined): AgentRuntime {
  const { fallback: _none, ...rest } = entry;
  const publicUrl = () => {
    if (hubUrl === undefined)
      throw new HubError('config_invalid', `agent ${name}'s baseUrl is on the hub, and server.port is 0: pass --url of the running hub`);
    return hubUrl;
  };
  const built = buildAgents(
    { [name]: { ...rest, agentId, disabled: false } },
    { provider: createProviderClient({ clock: systemClock }), clock: systemClock, publicUrl },
  );
  return built.get(name)!;
}
