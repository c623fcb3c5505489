import { createHmac } from 'node:crypto';
import type { Request, RequestHandler, Response, Router } from 'express';
import { pushAtMost } from './agents-bounds.js';
import type { Knobs, Wait } from './agents-inject.js';

/**
 * The sandbox marketplace's async mode (seed 000, "Asynchronous with Webhooks"): a task is
 * answered at once with its id, and its result is POSTed later to the `webhook.url` it came with
 * (the shape of a hub's callback URL only, agents-callback-url.ts), signed as seed 000 verifies
 * it: `X-Webhook-Timestamp` and `X-Webhook-Signature`, the hex HMAC-SHA256 of
 * `<timestamp>.<body>` under `webhook.secret`.
 *
 * Failure injection, per task (header `x-sandbox-<name>`, or `+<name>=<value>` in the agent id):
 * - `callback-ms: N`          send the callback N ms after the task was taken (default 20, at most 60000)
 * - `callback: failed`        the callback says the task failed (type `tool_unavailable`)
 * - `callback: hold`          keep the callback until `POST /_callbacks/:taskId/release` (tests, demos)
 * - `callback: never`         never send one (a platform that lost the task)
 * - `callback-duplicates: N`  send the same callback N more times (a platform's redelivery; at most 5)
 *
 * The Kore agents (agents-kore.ts) send their async answers through the same deliveries
 * (`schedule`), so the same knobs apply to them, unsigned unless a secret is given.
 */

export interface AsyncTask {
  taskId: string;
  webhook: { url: string; secret: string };
  output: unknown;
  usage: object;
  knobs: Knobs;
}

/** One task's callback, for `schedule`: sent, held or dropped as its knobs say. */
export interface Callback {
  /** The key a held callback is listed and released by: the platform's id of the task. */
  taskId: string;
  url: string;
  /** Signed as seed 000 says when given; else sent unsigned (a Kore agent's answer). */
  secret?: string | undefined;
  /** The body: the task's answer, or with `callback: failed` its failure. */
  body: (failed: boolean) => string;
  knobs: Knobs;
  /** The wait before sending when `callback-ms` names none. */
  defaultMs: number;
}

interface Pending {
  url: string;
  secret: string | undefined;
  body: string;
  copies: number;
  /** When it was held (ms of the injected clock). */
  heldAt: number;
}

/**
 * What the marketplace keeps for strangers who hold the public key: each held callback carries a
 * body of up to 256 KB, so at most this many are held (the oldest dropped, as if it had been
 * `never`), and none past its hour; callbacks waiting for their `callback-ms` are capped as well
 * (a task past the cap is answered 429, as a busy platform does); `sent` is a ring of the latest.
 */
export const MAX_HELD = 100;
export const HOLD_TTL_MS = 60 * 60 * 1000;
export const MAX_SCHEDULED = 100;
export const MAX_SENT = 1_000;

export interface AsyncDeliveriesOptions {
  wait: Wait;
  /** The clock (ms) callbacks are signed with and held ones expire by; tests skew it to send stale callbacks. */
  now?: () => number;
  fetch?: typeof fetch;
}

/** Signs a callback body as seed 000's receiver checks it. */
export function signCallback(secret: string, timestamp: number, body: string): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return { 'content-type': 'application/json', 'x-webhook-timestamp': String(timestamp), 'x-webhook-signature': signature };
}

export class AsyncDeliveries {
  private readonly held = new Map<string, Pending>();
  private scheduled = 0;
  /** Callbacks sent, and the status each got (for tests and demos): the last MAX_SENT. */
  readonly sent: Array<{ taskId: string; status: number }> = [];

  constructor(private readonly o: AsyncDeliveriesOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Whether another task's callback would pass the cap of those waiting to be sent. */
  get busy(): boolean {
    return this.scheduled >= MAX_SCHEDULED;
  }

  /** Answers 202 with the queued task; the callback follows in the background. */
  submit(res: Response, t: AsyncTask): void {
    res.status(202).json({ task_id: t.taskId, status: 'queued' });
    void this.schedule({
      taskId: t.taskId,
      url: t.webhook.url,
      secret: t.webhook.secret,
      body: (failed) =>
        JSON.stringify(
          failed
            ? { task_id: t.taskId, status: 'failed', error: { type: 'tool_unavailable', message: 'a tool the agent needs is down' } }
            : { task_id: t.taskId, status: 'completed', output: t.output, usage: t.usage },
        ),
      knobs: t.knobs,
      defaultMs: 20,
    });
  }

  /**
   * Sends a task's callback as its knobs say (`callback`, `callback-ms`, `callback-duplicates`):
   * after the wait, held until released, or never. Settles once it is sent, held or dropped.
   */
  async schedule(c: Callback): Promise<void> {
    const mode = c.knobs.callback;
    if (mode === 'never') return;
    const p: Pending = { url: c.url, secret: c.secret, body: c.body(mode === 'failed'), copies: 1 + (c.knobs['callback-duplicates'] ?? 0), heldAt: this.now() };
    if (mode === 'hold') return this.hold(c.taskId, p);
    this.scheduled++;
    try {
      await this.o.wait(c.knobs['callback-ms'] ?? c.defaultMs);
      await this.deliver(c.taskId, p);
    } finally {
      this.scheduled--;
    }
  }

  private hold(taskId: string, p: Pending): void {
    this.expire();
    this.held.set(taskId, p);
    for (const oldest of this.held.keys()) {
      if (this.held.size <= MAX_HELD) break;
      this.held.delete(oldest);
    }
  }

  /** Drops held callbacks past their hour; run whenever the held ones are read or added to. */
  private expire(): void {
    const now = this.now();
    for (const [taskId, p] of this.held) if (now - p.heldAt >= HOLD_TTL_MS) this.held.delete(taskId);
  }

  /** `GET /_callbacks` lists held callbacks; `POST /_callbacks/:taskId/release` sends one now. Both behind `guard`. */
  mount(router: Router, guard: RequestHandler): void {
    router.get('/_callbacks', guard, (_req, res) => {
      this.expire();
      res.json({ held: [...this.held].map(([taskId, p]) => ({ task_id: taskId, url: p.url })), sent: this.sent });
    });
    router.post('/_callbacks/:taskId/release', guard, async (req: Request<{ taskId: string }>, res) => {
      this.expire();
      const p = this.held.get(req.params.taskId);
      if (!p)
        return void res
          .status(404)
          .json({ error: { type: 'not_found', message: 'no callback held for this task (never held, released, dropped or expired)' } });
      this.held.delete(req.params.taskId);
      res.json({ statuses: await this.deliver(req.params.taskId, p) });
    });
  }

  /** Each copy signed afresh, as a platform's redelivery is; a transport error or 5xx is tried twice more. */
  private async deliver(taskId: string, p: Pending): Promise<number[]> {
    const statuses: number[] = [];
    for (let copy = 0; copy < p.copies; copy++) {
      let status = 0;
      for (let attempt = 0; attempt < 3 && (status === 0 || status >= 500); attempt++) {
        if (attempt > 0) await this.o.wait(100);
        const headers = p.secret === undefined ? { 'content-type': 'application/json' } : signCallback(p.secret, Math.floor(this.now() / 1000), p.body);
        // Redirects are not followed: the URL was checked, where it points to was not.
        status = await (this.o.fetch ?? fetch)(p.url, { method: 'POST', headers, body: p.body, redirect: 'manual' }).then(
          async (r) => {
            await r.body?.cancel();
            return r.status;
          },
          () => 0,
        );
      }
      pushAtMost(this.sent, MAX_SENT, { taskId, status });
      statuses.push(status);
    }
    return statuses;
  }
}
