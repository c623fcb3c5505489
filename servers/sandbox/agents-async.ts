import { createHmac } from 'node:crypto';
import type { Request, Response, Router } from 'express';

/**
 * The sandbox marketplace's async mode (seed 000, "Asynchronous with Webhooks"): a task is
 * answered at once with its id, and its result is POSTed later to the `webhook.url` it came with,
 * signed as seed 000 verifies it: `X-Webhook-Timestamp` and `X-Webhook-Signature`, the hex
 * HMAC-SHA256 of `<timestamp>.<body>` under `webhook.secret`.
 *
 * Failure injection, per task (header `x-sandbox-<name>`, or `+<name>=<value>` in the agent id):
 * - `callback-ms: N`          send the callback N ms after the task was taken (default 20)
 * - `callback: failed`        the callback says the task failed (type `tool_unavailable`)
 * - `callback: hold`          keep the callback until `POST /_callbacks/:taskId/release` (tests, demos)
 * - `callback: never`         never send one (a platform that lost the task)
 * - `callback-duplicates: N`  send the same callback N more times (a platform's redelivery)
 */

export type Wait = (ms: number) => Promise<void>;

export interface AsyncTask {
  taskId: string;
  webhook: { url: string; secret: string };
  output: unknown;
  usage: object;
  h: (name: string) => string | undefined;
}

interface Pending {
  url: string;
  secret: string;
  body: string;
  copies: number;
}

export interface AsyncDeliveriesOptions {
  wait: Wait;
  /** The signing clock (ms); tests pass a skewed one to send stale callbacks. */
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
  /** Callbacks sent, and the status each got (for tests and demos). */
  readonly sent: Array<{ taskId: string; status: number }> = [];

  constructor(private readonly o: AsyncDeliveriesOptions) {}

  /** Answers 202 with the queued task; the callback follows in the background. */
  submit(res: Response, t: AsyncTask): void {
    res.status(202).json({ task_id: t.taskId, status: 'queued' });
    const mode = t.h('callback');
    if (mode === 'never') return;
    const body = JSON.stringify(
      mode === 'failed'
        ? { task_id: t.taskId, status: 'failed', error: { type: 'tool_unavailable', message: 'a tool the agent needs is down' } }
        : { task_id: t.taskId, status: 'completed', output: t.output, usage: t.usage },
    );
    const p: Pending = { url: t.webhook.url, secret: t.webhook.secret, body, copies: 1 + Number(t.h('callback-duplicates') ?? 0) };
    if (mode === 'hold') return void this.held.set(t.taskId, p);
    void this.o.wait(Number(t.h('callback-ms') ?? 20)).then(() => this.deliver(t.taskId, p));
  }

  /** `GET /_callbacks` lists held callbacks; `POST /_callbacks/:taskId/release` sends one now. */
  mount(router: Router): void {
    router.get('/_callbacks', (_req, res) => {
      res.json({ held: [...this.held].map(([taskId, p]) => ({ task_id: taskId, url: p.url })), sent: this.sent });
    });
    router.post('/_callbacks/:taskId/release', async (req: Request<{ taskId: string }>, res) => {
      const p = this.held.get(req.params.taskId);
      if (!p) return void res.status(404).json({ error: { type: 'not_found', message: 'no callback held for this task' } });
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
        const headers = signCallback(p.secret, Math.floor((this.o.now ?? Date.now)() / 1000), p.body);
        status = await (this.o.fetch ?? fetch)(p.url, { method: 'POST', headers, body: p.body }).then(
          async (r) => {
            await r.body?.cancel();
            return r.status;
          },
          () => 0,
        );
      }
      this.sent.push({ taskId, status });
      statuses.push(status);
    }
    return statuses;
  }
}
