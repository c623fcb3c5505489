import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { keepAtMost } from './agents-bounds.js';

export type Wait = (ms: number) => Promise<void>;

export const realWait: Wait = (ms) => new Promise((r) => setTimeout(r, ms));

// Digits only: `Number()` would take `1e3`, `400.5`, ` 503` or `0x1f7`, which no header of a
// real platform carries. The ranges keep one request from holding a connection for long or
// fanning out into many callbacks.
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);
// RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date (IMF-fixdate, §5.6.7).
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Every failure-injection knob, with the values it takes. */
const KNOBS = {
  'latency-ms': whole(0, 60_000),
  'token-ms': whole(0, 5_000),
  fail: whole(400, 599),
  'fail-times': whole(0, 1_000),
  'fail-key': z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 letters, digits, dots, colons, dashes or underscores'),
  'retry-after': z.string().refine((v) => (/^\d{1,5}$/.test(v) && Number(v) <= 86_400) || IMF_FIXDATE.test(v), 'must be seconds (0-86400) or an HTTP-date'),
  output: z.enum(['invalid', 'low_confidence', 'json_text']),
  'agent-error': z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be an error type in lower case, e.g. tool_unavailable'),
  queue: z.enum(['', '1', 'true']).transform(() => true),
  callback: z.enum(['failed', 'hold', 'never']),
  'callback-ms': whole(0, 60_000),
  'callback-duplicates': whole(0, 5),
  'echo-headers': z.enum(['0', '1']).transform((v) => v === '1'),
};
const knobsSchema = z.object(KNOBS).partial();

export type Knobs = z.output<typeof knobsSchema>;

/**
 * The failure injection of the sandbox agents, per request, so one marketplace serves healthy
 * and broken agents side by side: by header `x-sandbox-<name>` (an agent entry's `headers`), or
 * in the agent id after `+` (`memory_v1+fail=503+fail-times=2`), which suits values a result may
 * quote (the hub scrubs header values from results, as secrets). The id's value wins.
 */
export interface Injection {
  /** The agent id without its `+` spec. */
  id: string;
  knobs: Knobs;
}

/** Request headers (lower case, as Node gives them) that carry a knob. */
const HEADER_PREFIX = 'x-sandbox-';

/** The request's injection, or why it is refused (an unknown knob or a value out of range). */
export function injectionOf(req: Request, rawId: string): Injection | { error: string } {
  const [id, ...spec] = rawId.split('+');
  // A misspelt header knob (`x-sandbox-latency` for `-latency-ms`) would leave the agent healthy
  // while its entry reads as broken: refused like a misspelt `+` knob, naming it.
  const stray = Object.keys(req.headers).find((h) => h.startsWith(HEADER_PREFIX) && !Object.hasOwn(KNOBS, h.slice(HEADER_PREFIX.length)));
  if (stray !== undefined) return { error: `unknown failure injection header ${stray.slice(0, 60)}` };
  const raw: Record<string, string> = {};
  for (const name of Object.keys(KNOBS)) {
    const header = req.get(`${HEADER_PREFIX}${name}`);
    if (header !== undefined) raw[name] = header;
  }
  for (const kv of spec) {
    const at = kv.indexOf('=');
    const name = at < 0 ? kv : kv.slice(0, at);
    if (!Object.hasOwn(KNOBS, name)) return { error: `unknown failure injection +${name.slice(0, 40)}` };
    raw[name] = at < 0 ? '' : kv.slice(at + 1);
  }
  const parsed = knobsSchema.safeParse(raw);
  if (!parsed.success) return { error: parsed.error.issues.map((i) => `failure injection ${i.path.join('.')}: ${i.message}`).join('; ') };
  return { id: id!, knobs: parsed.data };
}

/** Failure counts per `fail-key`: a caller can name any key, so only the latest ones are kept. */
const MAX_FAIL_KEYS = 1_000;

/**
 * `latency-ms` (wait first), then `fail` (a status, with `retry-after`, for the first
 * `fail-times` requests of `fail-key`, default the agent id). True when the answer was sent.
 */
export async function injected(inj: Injection, res: Response, o: { wait: Wait; failures: Map<string, number> }): Promise<boolean> {
  const { knobs } = inj;
  if (knobs['latency-ms']) await o.wait(knobs['latency-ms']);
  if (res.destroyed) return true;
  const fail = knobs.fail;
  if (fail === undefined) return false;
  const key = knobs['fail-key'] ?? inj.id;
  const seen = o.failures.get(key) ?? 0;
  if (knobs['fail-times'] !== undefined && seen >= knobs['fail-times']) return false;
  keepAtMost(o.failures, MAX_FAIL_KEYS, key, seen + 1);
  if (knobs['retry-after'] !== undefined) res.set('retry-after', knobs['retry-after']);
  res.status(fail).json({ error: { type: 'injected', message: `the sandbox was asked to answer ${fail}` } });
  return true;
}

/** Whether `Authorization: Bearer <key>` names one of `keys` (compared in constant time). */
export function authorized(header: string | undefined, keys: readonly Buffer[]): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  return m !== null && oneOf(m[1]!, keys);
}

/** Whether `given` is one of `keys`, compared in constant time. */
export function oneOf(given: string, keys: readonly Buffer[]): boolean {
  const g = Buffer.from(given);
  // Lengths first: timingSafeEqual throws on unequal lengths.
  return keys.some((k) => k.length === g.length && timingSafeEqual(k, g));
}
