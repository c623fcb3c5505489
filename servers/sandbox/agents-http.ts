import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { pushAtMost, small } from './agents-bounds.js';
import { diagnosticsOnly } from './agents-diagnostics.js';
import { injected, injectionOf, oneOf, realWait, type Wait } from './agents-inject.js';
import { clientFault } from './errors.js';

/** The key the sandbox's plain-HTTP agent accepts in `X-Api-Key`: public, as the sandbox is local. */
export const SANDBOX_HTTP_KEY = 'http_sandbox_local';

export interface HttpAgentOptions {
  apiKeys?: readonly string[];
  wait?: Wait;
}

/**
 * What the agent has seen (GET /_stats, local callers with the key only): the last MAX_SEEN
 * requests' method, path, query and body (a large body is noted by size).
 */
export interface HttpAgentStats {
  requests: Array<{ method: string; path: string; query: Record<string, unknown>; body: unknown }>;
}

const MAX_SEEN = 100;

/** This API's error body, `{ error: "<message>" }`. */
const refuse = (res: Response, status: number, message: string): void => void res.status(status).json({ error: message });

const bodySchema = z.object({
  question: z.string().min(1),
  days: z.number().int().min(1).optional(),
  session: z.string().optional(),
  call: z.string().optional(),
});

/**
 * An agent with an API of its own, neither upagents nor Kore, for the `http` protocol: a weather
 * forecaster. `POST /v1/forecast/:city?units=metric|imperial` with `X-Api-Key` and
 * `{ question, days?, session?, call? }` answers `{ request_id, data: { city, units, days,
 * summary, highs }, error: null }`; more than 14 days is a 200 whose `error` says why (an
 * agent-level error); a wrong key is a 401 that quotes the key it got, as careless APIs do (the
 * hub must scrub it). `x-sandbox-echo-headers: 1` adds the request's headers to the answer.
 * Failure injection as in agents-inject.ts, the agent id being `forecast` plus any `+` spec in
 * the city segment's place (`/v1/forecast+fail=503/:city`).
 */
export function httpAgentRoutes(o: HttpAgentOptions = {}): { router: Router; stats: () => HttpAgentStats } {
  const keys = (o.apiKeys ?? [SANDBOX_HTTP_KEY]).map((k) => Buffer.from(k));
  const wait = o.wait ?? realWait;
  const failures = new Map<string, number>();
  const stats: HttpAgentStats = { requests: [] };
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));
  const diagnostics = diagnosticsOnly({ keyOk: (req) => oneOf(req.get('x-api-key') ?? '', keys), deny: refuse });
  router.get('/_stats', diagnostics, (_req, res) => {
    res.json(stats);
  });

  router.post('/v1/:agent/:city', async (req: Request<{ agent: string; city: string }>, res: Response) => {
    pushAtMost(stats.requests, MAX_SEEN, { method: req.method, path: req.path, query: { ...req.query }, body: small(req.body) });
    const given = req.get('x-api-key') ?? '';
    if (!oneOf(given, keys)) return refuse(res, 401, `the key "${given.slice(0, 200)}" is not valid here`);
    const inj = injectionOf(req, req.params.agent);
    if ('error' in inj) return refuse(res, 400, inj.error);
    if (inj.id !== 'forecast') return refuse(res, 404, `no agent ${inj.id.slice(0, 100)}`);
    if (await injected(inj, res, { wait, failures })) return;
    const body = bodySchema.safeParse(req.body);
    if (!body.success) return refuse(res, 400, body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const { question, days = 3, session } = body.data;
    const units = req.query['units'] === 'imperial' ? 'imperial' : 'metric';
    const request_id = `req_${randomUUID()}`;
    if (days > 14) return void res.json({ request_id, data: null, error: { message: `forecasts go 14 days ahead at most, not ${days}` } });
    // A deterministic forecast from the city's letters: the same question answers the same.
    const seed = [...req.params.city].reduce((n, ch) => (n * 31 + ch.charCodeAt(0)) % 997, 7);
    const highs = Array.from({ length: days }, (_, i) => {
      const c = 10 + ((seed + i * 3) % 15);
      return units === 'metric' ? c : Math.round((c * 9) / 5 + 32);
    });
    const summary = `${req.params.city}: highs of ${highs.join(', ')} ${units === 'metric' ? '°C' : '°F'} over ${days} days (asked: ${question})`;
    const echo = inj.knobs['echo-headers'] ? { headers: req.headers } : {};
    res.json({ request_id, data: { city: req.params.city, units, days, summary, highs, session: session ?? null, ...echo }, error: null });
  });
  // A path parameter that is not valid percent-encoding, or a body that cannot be read, in this API's error shape.
  router.use(((err, _req, res, next) => {
    const fault = clientFault(err);
    if (!fault) return next(err);
    refuse(res, fault.status, fault.message);
  }) satisfies ErrorRequestHandler);
  return { router, stats: () => stats };
}
