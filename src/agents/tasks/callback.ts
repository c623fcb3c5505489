import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbortError } from 'p-retry';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { ERROR_SPECS, httpError, type HubErrorCode } from '../../errors.js';
import { writeJson } from '../../http/json.js';
import { closeIfBodyUnread } from '../../http/limits.js';
import { MAX_JSON_DEPTH, nestsTooDeep } from '../../mcp/json-depth.js';
import type { Logger } from '../../observability/logger.js';
import type { Vault } from '../../vault/vault.js';
import type { AgentMetrics, TaskEnd } from '../metrics.js';
import type { Accepted } from '../validate-output.js';
import type { EventHandler } from '../../webhooks/inbox/handlers.js';
import type { InboxIntake } from '../../webhooks/inbox/types.js';
import { discardRest, readRawBody } from '../../webhooks/raw-body.js';
import { answerNotStored } from '../../webhooks/store-failure.js';
import { verifyDelivery } from '../../webhooks/schemes/index.js';
import type { TaskEvents } from './events.js';
import type { CallbackBody, CallbackFormat } from './formats.js';
import { INVALID_OUTPUT_ERROR, isFinalTask, loggedTaskId, type AgentTask, type AgentTaskStore, type TaskOutcome } from './types.js';

/** The inbox's name for agent callbacks: reserved (no integration or source is named `agent`). */
export const CALLBACK_INTEGRATION = 'agent';
export const CALLBACK_PREFIX = '/agents/callback/';
/** Sealed in the inbox row: a callback carries the agent's whole output. */
const PAYLOAD_KIND = 'agent_callback';
/** An agent's answer may be long; more than this is refused with 413. */
const MAX_CALLBACK_BYTES = 5 * 1024 * 1024;
const TASK_ID = /^at_[A-Za-z0-9_-]{22}$/;

export interface CallbackDeps {
  tasks: AgentTaskStore;
  intake: InboxIntake;
  vault: Vault;
  events: TaskEvents;
  /** How a callback for this task is written and whether it must be signed (its agent's protocol). */
  formatOf: (task: AgentTask) => CallbackFormat;
  /** The webhook secrets that may sign a callback for this task: its taker's (service.ts). */
  secretsFor: (task: AgentTask) => string[];
  /** The output as this task's result (validate-output.ts `acceptAnswer`), or why it may not be accepted. */
  acceptOutput: (task: AgentTask, output: unknown) => Accepted;
  clock: Clock;
  log: Logger;
  /** Text with the agents' secrets replaced, as the stored platform task id is (service.ts). */
  scrub: (text: string) => string;
  /** Per-agent metrics: a task's agent is counted when its callback ends the task. */
  metered?: Pick<AgentMetrics, 'taskEnded'> | undefined;
  /**
   * Whether this hub's config has the async agent that may answer the task (with its secret and
   * protocol). Another process on the data dir may have submitted it under another config.
   */
  configured: (task: AgentTask) => boolean;
}

/**
 * What the route seals into the inbox: the callback as this hub read it (verified, parsed, its
 * output checked), so the worker that applies it needs no config of its own; any process on the
 * data dir may claim the event.
 */
const sealedSchema = z.object({
  v: z.literal(2),
  remoteId: z.string(),
  outcome: z
    .discriminatedUnion('state', [
      z.object({ state: z.literal('completed'), result: z.unknown() }),
      z.object({ state: z.enum(['failed', 'cancelled', 'timed_out']), error: z.string() }),
    ])
    .optional(),
  end: z
    .union([
      z.object({ state: z.literal('completed') }),
      z.object({ state: z.literal('failed'), invalidOutput: z.string().optional(), agentError: z.string().optional() }),
      z.object({ state: z.literal('timed_out') }),
    ])
    .optional(),
});
type Sealed = z.infer<typeof sealedSchema>;

/**
 * `POST /agents/callback/:taskId` (ARCHITECTURE.md, data flow 7): the URL's task must exist, the
 * raw bytes must carry the `upagents` signature of an agent that may answer it within the window
 * (else 401 and the task is unchanged; a Kore agent without a webhookSecret sends unsigned, see
 * formats.ts), and the body must name the platform task it is bound to.
 * Then it goes the webhook way: sealed into the inbox under a delivery id of (task, platform task,
 * status), so a redelivery is stored once and handled once, and 200 once the row is durable. A
 * callback for a task already final (cancelled, timed out, completed) is acknowledged and dropped.
 * A task whose agent this hub's config lacks (a `serve` and a `stdio` on one data dir with other
 * configs) cannot be verified here: 409 agent_not_configured, logged, the task unchanged; the
 * platform's retry may reach the hub that has it. The store alone does not hold the secret, and
 * accepting an unverified upagents callback would let anyone holding the URL forge the answer.
 */
export function callbackRoute(d: CallbackDeps): (req: IncomingMessage, res: ServerResponse, taskId: string) => Promise<void> {
  const refuse = (req: IncomingMessage, res: ServerResponse, code: HubErrorCode, message: string) => {
    closeIfBodyUnread(req, res);
    const answer = httpError(code, message);
    writeJson(res, answer.status, answer.body);
  };
  return async (req, res, taskId) => {
    // Logged: a prefix of the task id, never the body, a header value or a secret.
    const where = { task: loggedTaskId(taskId) };
    try {
      const task = TASK_ID.test(taskId) ? await d.tasks.get(taskId) : undefined;
      if (task === undefined) return refuse(req, res, 'not_found', 'no such agent task');
      if (!d.configured(task)) {
        // Nothing to verify it with here. A task already final needs nothing: acknowledged, so the platform stops.
        if (isFinalTask(task.state)) {
          closeIfBodyUnread(req, res);
          return writeJson(res, 200, { ok: true, dropped: true });
        }
        d.log.warn({ ...where, agent: task.agent }, 'agent callback refused: its agent is not configured on this hub');
        return refuse(
          req,
          res,
          'agent_not_configured',
          `the agent ${task.answeredBy ?? task.agent} of this task is not an async agent in this hub's config, so its callback cannot be verified here; send it to the hub that submitted the task, or configure the agent here`,
        );
      }
      const read = await readRawBody(req, MAX_CALLBACK_BYTES);
      if (!read.ok) {
        if (read.reason === 'aborted') return void req.socket.destroy();
        // As the webhook route: the rest is read and dropped before the answer (the body deadline
        // and DISCARD_BYTES bound it), else the platform, still writing, hears a reset, not the 413.
        if (!(await discardRest(req))) res.setHeader('Connection', 'close');
        return writeJson(res, ERROR_SPECS.body_too_large.http, httpError('body_too_large', `the body is over ${MAX_CALLBACK_BYTES} bytes`).body);
      }
      const format = d.formatOf(task);
      const verdict = format.signed
        ? verifyDelivery({ scheme: 'upagents', body: read.body, headers: req.headers, secrets: d.secretsFor(task), now: d.clock.now() })
        : ({ ok: true } as const);
      if (!verdict.ok) {
        d.log[ERROR_SPECS[verdict.code].log]({ ...where, agent: task.agent, code: verdict.code, why: verdict.message }, 'agent callback refused');
        return writeJson(res, ERROR_SPECS[verdict.code].http, httpError(verdict.code, verdict.message).body);
      }
      const text = read.body.toString('utf8');
      // Deeper JSON could not be sealed (JSON.stringify overflows): a body no retry changes, not a store fault.
      if (nestsTooDeep(text)) return writeJson(res, 400, httpError('bad_body', `the body nests deeper than ${MAX_JSON_DEPTH} levels`).body);
      const body = format.parse(text);
      if (body === undefined) return writeJson(res, 400, httpError('bad_body', "the body is not a task callback of this agent's protocol").body);
      if ('refused' in body) {
        // Answered 4xx, not 200: the platform's delivery log shows its mistake, and the answer is not lost as progress.
        const why = d.scrub(body.refused);
        d.log.warn({ ...where, agent: task.agent, why }, 'agent callback refused');
        return writeJson(res, 400, httpError('bad_body', why).body);
      }
      if (isFinalTask(task.state)) {
        d.log.info({ ...where, agent: task.agent, state: task.state, status: body.status }, 'agent callback for a finished task acknowledged and dropped');
        return writeJson(res, 200, { ok: true, dropped: true, state: task.state });
      }
      if (task.remoteTaskId !== null && task.remoteTaskId !== d.scrub(body.remoteId))
        return writeJson(res, 400, httpError('bad_body', 'this callback names another task than the one this URL is for').body);
      const { tenant, user } = task.owner;
      await d.vault.ensureDataKey(tenant);
      const o = outcomeOf(task, body, d);
      const payload: Sealed = { v: 2, remoteId: body.remoteId, ...(o ? { outcome: o.outcome, ...(o.end ? { end: o.end } : {}) } : {}) };
      const sealed = d.vault.encrypt({ tenant, kind: PAYLOAD_KIND, id: task.id }, Buffer.from(JSON.stringify(payload), 'utf8'));
      const r = await d.intake.accept({
        integration: CALLBACK_INTEGRATION,
        endpoint: '',
        // The platform's id as the task keeps it: one that echoes a key is stored scrubbed.
        deliveryId: `${task.id}:${d.scrub(body.remoteId)}:${body.status}`,
        connection: { id: task.id, tenant, user },
        type: `agent.task.${body.status}`,
        source: 'webhook',
        payload: Buffer.from(sealed, 'utf8'),
      });
      writeJson(res, 200, { ok: true, id: r.eventId, duplicate: r.outcome === 'duplicate' });
    } catch (err) {
      answerNotStored(req, res, err, { log: d.log, where, what: 'callback', retryAfter: '10' });
    }
  };
}

/** A callback's outcome for its task, and how its agent's answer is counted; a progress report (running) changes nothing. */
function outcomeOf(task: AgentTask, body: CallbackBody, d: CallbackDeps): { outcome: TaskOutcome; end: TaskEnd | undefined } | undefined {
  if (body.status === 'running') return undefined;
  if (body.status !== 'completed') {
    const outcome = { state: body.status, error: body.error ?? `the agent reported ${body.status}` };
    // The platform cancelled it: no answer of the agent's to count.
    return { outcome, end: body.status === 'failed' ? { state: 'failed', agentError: body.errorType ?? 'error' } : undefined };
  }
  const a = d.acceptOutput(task, body.output);
  return 'refused' in a
    ? { outcome: { state: 'failed', error: `${INVALID_OUTPUT_ERROR}${a.refused}` }, end: { state: 'failed', invalidOutput: a.refused } }
    : { outcome: { state: 'completed', result: a.output ?? null }, end: { state: 'completed' } };
}

/**
 * The inbox worker's handler for agent callbacks: unseals what the route read, binds the task to
 * the platform task it names and finishes it with a guarded update (so a second run, after a
 * crash between the effect and the event's `done`, changes nothing), then wakes a call waiting in
 * this process (one waiting in another process sees the store change at its next read).
 */
export function callbackEventHandler(d: CallbackDeps): EventHandler {
  return async (e) => {
    const taskId = e.connection?.id;
    const task = taskId === undefined ? undefined : await d.tasks.get(taskId);
    // Its words reach the log: a prefix of the id only (loggedTaskId).
    if (task === undefined) throw new AbortError(`no agent task ${taskId === undefined ? '(none)' : loggedTaskId(taskId)}`);
    if (isFinalTask(task.state)) return;
    const text = await d.vault.decrypting(() =>
      d.vault.decryptString({ tenant: task.owner.tenant, kind: PAYLOAD_KIND, id: task.id }, e.payload.toString('utf8')),
    );
    const read = sealedOf(text) ?? legacy(task, text, d);
    if (!(await d.tasks.accepted(task.id, { remoteTaskId: read.remoteId }))) throw new AbortError('the callback names another task than its URL');
    if (read.outcome === undefined) return;
    const outcome = read.outcome;
    if (await d.tasks.finish(task.id, outcome)) {
      if (read.end) d.metered?.taskEnded(task.answeredBy ?? task.agent, read.end);
      d.log.info(
        { task: loggedTaskId(task.id), agent: task.agent, state: outcome.state, ms: d.clock.now() - task.createdAt },
        'agent task finished by its callback',
      );
      d.events.publish(task.id);
    }
  };
}

function sealedOf(text: string): Sealed | undefined {
  try {
    const r = sealedSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** A callback sealed by an earlier version of the hub: the raw body, read with this hub's config. */
function legacy(task: AgentTask, text: string, d: CallbackDeps): Sealed {
  // Thrown as retryable: the process whose config has the agent may claim the event next.
  if (!d.configured(task)) throw new Error(`the agent ${task.agent} is not configured on this hub process`);
  const body = d.formatOf(task).parse(text);
  if (body === undefined) throw new AbortError('the callback body is not a task callback');
  if ('refused' in body) throw new AbortError(d.scrub(body.refused));
  const o = outcomeOf(task, body, d);
  return { v: 2, remoteId: body.remoteId, ...(o ? { outcome: o.outcome, ...(o.end ? { end: o.end } : {}) } : {}) };
}
