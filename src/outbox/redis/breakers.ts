import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.js';
import { HubError } from '../../errors.js';
import { type Admission, type AttemptOutcome, type BreakerOptions, type BreakerSnapshot, type BreakerState, countsAgainst } from '../breaker.js';
import type { RedisHandle } from '../../store/redis/client.js';
import { LuaScript } from '../../store/redis/eval.js';

/**
 * The circuit of one integration in one hash (st state, f consecutive counted failures, oa when
 * it opened, pa when the probe under way was let through), moved by one atomic script, so the
 * transitions are exactly those of src/outbox/breaker.ts whichever replica makes them, and the
 * half-open probe goes to the one caller whose script run comes first.
 *
 * Unlike the buckets, times come from the callers' injected clock (ARGV[2]): a cool-down is tens
 * of seconds, so replicas' clock skew of a few ms moves it by as much and harms nothing, and tests
 * run a cool-down on a manual clock instead of waiting it out. A closed circuit with no failures
 * is deleted, not stored.
 *
 * ARGV: op, now, coolDownMs, probeWaitMs, threshold, counted (record: '1' or '0'), ttl ms.
 * Reply: {ok, retryAt, state, failures, state before}.
 */
const BREAKER_SCRIPT = `
local op = ARGV[1]
local now = tonumber(ARGV[2])
local cool = tonumber(ARGV[3])
local probeWait = tonumber(ARGV[4])
local threshold = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'st', 'f', 'oa', 'pa')
local st = v[1] or 'closed'
local f = tonumber(v[2]) or 0
local oa = tonumber(v[3]) or 0
local pa = nil
if v[4] then pa = tonumber(v[4]) end
local from = st

local function save()
  if st == 'closed' and f == 0 then redis.call('DEL', KEYS[1]); return end
  redis.call('HSET', KEYS[1], 'st', st, 'f', f, 'oa', oa)
  if pa then redis.call('HSET', KEYS[1], 'pa', pa) else redis.call('HDEL', KEYS[1], 'pa') end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]))
end

-- An open circuit past its cool-down is half-open, read lazily by every caller.
local function advance()
  if st == 'open' and now >= oa + cool then st = 'half_open'; pa = nil end
end

if op == 'admit' then
  if st == 'closed' then return {1, 0, st, f, from} end
  advance()
  if st == 'half_open' and (pa == nil or now >= pa + cool) then
    -- This caller is the probe; a probe that never reports is given up after another cool-down.
    pa = now
    save()
    return {1, 0, st, f, from}
  end
  save()
  if st == 'open' then return {0, oa + cool, st, f, from} end
  return {0, now + probeWait, st, f, from}
elseif op == 'record' then
  pa = nil
  if ARGV[6] == '0' then
    f = 0; st = 'closed'
  else
    f = f + 1
    if st == 'half_open' or f >= threshold then oa = now; st = 'open' end
  end
  save()
  if st == 'open' then return {1, oa + cool, st, f, from} end
  return {1, 0, st, f, from}
elseif op == 'view' then
  advance()
  local retryAt = 0
  if st == 'open' then retryAt = oa + cool end
  return {1, retryAt, st, f, from}
end
return redis.error_reply('unknown breaker op ' .. tostring(op))
`;

const state = z.enum(['closed', 'open', 'half_open']);
const reply = z.tuple([z.number(), z.number(), state, z.number(), state]);

export interface RedisBreakerOptions extends BreakerOptions {
  redis: RedisHandle;
  /** How long a circuit that is not closed is kept untouched (default 1 day). */
  ttlMs?: number;
}

/**
 * Circuit breakers per integration shared by every replica: 5 consecutive counted failures on any
 * replicas open it for all; past the cool-down exactly one caller anywhere gets the probe. The
 * same methods as `CircuitBreakers`, returning Promises. `onChange` listeners hear the transitions
 * this replica makes; another replica's are seen by `admit` and `snapshot`.
 */
export class RedisBreakers {
  private readonly script: LuaScript;
  private readonly known = new Set<string>();
  private readonly listeners = new Set<(s: BreakerSnapshot) => void>();
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly probeWaitMs: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(private readonly opts: RedisBreakerOptions) {
    this.script = new LuaScript(opts.redis, BREAKER_SCRIPT, 'circuit breaker');
    this.threshold = opts.threshold ?? 5;
    this.coolDownMs = opts.coolDownMs ?? 30_000;
    this.probeWaitMs = Math.min(opts.probeWaitMs ?? 1_000, this.coolDownMs);
    this.ttlMs = opts.ttlMs ?? 86_400_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Tracks an integration, so `snapshot` shows it (closed) before its first send. */
  add(integration: string): void {
    this.known.add(integration);
  }

  onChange(listener: (s: BreakerSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async run(op: 'admit' | 'record' | 'view', integration: string, counted = false) {
    this.known.add(integration);
    const now = this.clock.now();
    const raw = await this.script.run(
      [this.opts.redis.key('breaker', `{${integration}}`)],
      [op, now, this.coolDownMs, this.probeWaitMs, this.threshold, counted ? '1' : '0', this.ttlMs],
    );
    const [ok, retryAt, st, failures, from] = reply.parse(raw);
    if (from !== st && op !== 'view') {
      const snap = this.view(integration, st, failures, retryAt);
      for (const l of this.listeners) l(snap);
    }
    return { ok: ok === 1, retryAt, state: st, failures };
  }

  private view(integration: string, st: BreakerState, failures: number, retryAt: number): BreakerSnapshot {
    return { integration, state: st, failures, retryAt: st === 'open' ? retryAt : undefined };
  }

  /** Whether an attempt may go now; if not, when to ask again. Past the cool-down one caller, anywhere, is the probe. */
  async admit(integration: string): Promise<Admission> {
    const a = await this.run('admit', integration);
    if (a.ok) return a.state === 'half_open' ? { ok: true, probe: true } : { ok: true };
    return { ok: false, retryAt: a.retryAt, state: a.state, failures: a.failures };
  }

  /** As `admit`, throwing `circuit_open` when the attempt may not go; true when it goes as the probe. */
  async check(integration: string): Promise<boolean> {
    const a = await this.admit(integration);
    if (a.ok) return a.probe === true;
    const when = a.state === 'half_open' ? 'a probe is under way' : `it retries at ${new Date(a.retryAt).toISOString()}`;
    throw new HubError(
      'circuit_open',
      `${integration} is failing (${a.failures} consecutive 5xx answers, timeouts or network errors), so calls are paused; ${when}`,
      { details: { integration, state: a.state, retryAt: a.retryAt } },
    );
  }

  /** After an attempt `admit` or `check` let through; a 4xx proves the provider up and closes it. */
  async record(integration: string, outcome: AttemptOutcome): Promise<void> {
    await this.run('record', integration, countsAgainst(outcome));
  }

  /** Every integration this replica knows of, as Redis holds it now. */
  async snapshot(): Promise<BreakerSnapshot[]> {
    return Promise.all(
      [...this.known].map(async (i) => {
        const v = await this.run('view', i);
        return this.view(i, v.state, v.failures, v.retryAt);
      }),
    );
  }
}
