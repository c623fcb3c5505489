import { titled } from './titled.js';
import { createHash, createHmac } from 'node:crypto';
import { ProtocolError, ProtocolErrorCode, isCallToolResult, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import type { Refusal } from '../definition/refusal.js';
import { HubError, isHubErrorCode } from '../errors.js';
import { identityKey, type Identity } from '../identity/identity.js';
import { nodeHttp } from '../lazy-require.js';
import { CallerGone, type CallContext } from '../mcp/source.js';
import type { SendOutcome } from '../outbox/classify.js';
import { circuitHold, type CircuitHold, type CircuitView } from '../outbox/queue-source.js';
import { canonicalJson } from '../outbox/hash.js';
import type { OutboxService } from '../outbox/service.js';
import { isFinal, type Job, type JobResult, type JobState, type OpenJob } from '../outbox/types.js';
import type { ProviderFetch } from '../providers/client.js';
import { cutText } from '../providers/cut-text.js';
import type { IntegrationDefinition, ToolDefinition } from './definition.js';
import { httpRequestOf, renderAnswer, type HttpRequest } from './http-tool.js';

/** The request `_meta` key a client sets so its own retries of one write dedupe (issue 9). */
export const META_IDEMPOTENCY_KEY = 'switchboard/idempotency-key';
/** Between progress notifications while a write waits in the outbox. */
const PROGRESS_EVERY_MS = 1_000;

/** What a write tool returns past `outbox.waitMs`: its job, to ask `queue__job_status` about later. */
export const JOB_HANDLE_SCHEMA = {
  type: 'object',
  properties: { jobId: { type: 'string' }, state: { type: 'string' } },
  required: ['jobId', 'state'],
} as const;

/**
 * A write's declared output schema, widened so a client that validates results also accepts the
 * handle (MCP requires an object schema at the top, so the union sits inside it).
 */
export function writeOutputSchema(output: Record<string, unknown>): Tool['outputSchema'] {
  return { type: 'object', anyOf: [{ type: 'object', ...output }, JOB_HANDLE_SCHEMA] } as Tool['outputSchema'];
}

/** The caller's idempotency key from `_meta`, if any: a string of 1–255 characters, else invalid params. */
export function callerKey(ctx: CallContext): string | undefined {
  const v = ctx.meta?.[META_IDEMPOTENCY_KEY];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 255)
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `_meta["${META_IDEMPOTENCY_KEY}"] must be a string of 1 to 255 characters`);
  return v;
}

/**
 * The queue id (a job's `connectionId`) of a write made with the app's key from config: the
 * caller's own, so the outbox's FIFO per ordering key and its turns between queues are per user,
 * as they are per linked account. One id for every user (`app`) let one user's burst go before
 * another's first write, and one user's stuck ordered write hold everyone's. The key's pacing
 * buckets stay one (`<integration>:app`): the provider counts the key, not the user.
 * SQLite migration 24 (PostgreSQL 11) moved jobs queued under `app` to their user's id.
 */
export function appQueueOf(identity: Identity): string {
  return `app:${identityKey(identity)}`;
}

/** The hub secret ordering values are digested under (kept in the store, sealed by the vault). */
export const OUTBOX_ORDERING_KEY = 'outbox_ordering_key';

/**
 * The outbox's ordering key of one call (jobs of one connection and key are sent one at a time, in
 * queue order). Writes of the integration whose ordering values are equal share it, whichever tool
 * made them, so a comment and a close of one ticket keep their order; a number and its digits are
 * one value. Stored as an HMAC under a hub key: the queue's columns never show an argument (`queue
 * list`, and a sensitive job's arguments are sealed), and a short value (a ticket number, an
 * address) cannot be confirmed by hashing guesses, as it could from a plain digest. Names the
 * integration, as a job's connection is only an id.
 */
export function orderingKeyOf(integration: string, ordering: ToolDefinition['ordering'], args: Record<string, unknown>, secret: Buffer): string | undefined {
  if (ordering === undefined) return undefined;
  if (ordering === 'connection') return `${integration}:connection`;
  const h = createHmac('sha256', secret);
  // Length-prefixed, so ("a:b", "c") and ("a", "b:c") cannot collide.
  for (const part of ['switchboard/outbox-ordering/v1', integration, orderingValue(args, ordering.key)]) h.update(`${Buffer.byteLength(part)}:${part}`);
  return `${integration}:k1.${h.digest('base64url')}`;
}

/**
 * The key the hub stored before ordering values were keyed (an unkeyed SHA-256). A new write joins
 * it while a job queued before the upgrade still holds it, so writes queued across the upgrade keep
 * their order (SqliteOutbox.enqueue); once those jobs are done, nothing is stored under it again.
 */
export function unkeyedOrderingKeyOf(integration: string, ordering: ToolDefinition['ordering'], args: Record<string, unknown>): string | undefined {
  if (ordering === undefined || ordering === 'connection') return undefined;
  return `${integration}:${createHash('sha256').update(orderingValue(args, ordering.key)).digest('base64url')}`;
}

function orderingValue(args: Record<string, unknown>, key: string): string {
  const v = args[key] ?? null;
  return typeof v === 'string' || typeof v === 'number' ? String(v) : canonicalJson(v);
}

// RFC 9110 §9.2.2: these are safe; an idempotency key is for the methods that are not
// (draft-ietf-httpapi-idempotency-key-header §2).
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether a request of a handler is a write (an unsafe method). */
export function isWrite(init: RequestInit | undefined): boolean {
  return !SAFE_METHODS.has((init?.method ?? 'GET').toUpperCase());
}

/**
 * A handler's fetch in the outbox's worker: each write it makes carries an idempotency key made
 * from the job id — the first the job id itself, the n-th `<job id>.<n>`. One key on two writes
 * would have a provider that keys writes (Stripe) answer the second with the first's replay, or
 * refuse it for other parameters; numbered in order, a resent job sends the same keys again as
 * long as its handler makes its writes in the same order.
 */
export function keyedFetch(fetch: ProviderFetch, header: string, jobId: string): ProviderFetch {
  let writes = 0;
  return (path, init = {}) => {
    if (!isWrite(init)) return fetch(path, init);
    writes += 1;
    const headers = new Headers(init.headers);
    headers.set(header, writes === 1 ? jobId : `${jobId}.${writes}`);
    return fetch(path, { ...init, headers });
  };
}

/** Handlers may return a CallToolResult or any JSON value (shown as text, and as structured content when an object). */
export function normalise(value: unknown): CallToolResult {
  if (value !== null && typeof value === 'object' && 'content' in value && Array.isArray((value as CallToolResult).content)) return value as CallToolResult;
  const result: CallToolResult = { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) result.structuredContent = value as Record<string, unknown>;
  return result;
}

/**
 * A handler's answer as the job's result: the tool result the direct call would have returned.
 * Status 200 whether or not it is an `isError` result: the handler ran to its end and decided, so
 * the job is done and never sent again.
 */
export function handlerOutcome(value: unknown): SendOutcome {
  return { status: 200, body: JSON.stringify(normalise(value)) };
}

/** What of a tool's definition shapes its answer: the types of the next page's arguments and of structuredContent. */
type ToolSchemas = Pick<ToolDefinition, 'input' | 'output'>;

export interface WaitOptions {
  outbox: OutboxService;
  job: Job;
  ctx: CallContext;
  title: string;
  qualified: string;
  /** A template tool's request; undefined for a handler, whose stored answer is its tool result. */
  request: Pick<HttpRequest, 'method' | 'path'> | undefined;
  /** How the provider says "refused" in a 2xx answer, if it does. */
  refusal?: Refusal | undefined;
  /** The tool's schemas: the answer is shaped by them as a direct call's is (renderAnswer). */
  schemas?: ToolSchemas | undefined;
  /** The integrations' circuits, read (never admitted through) to say why a write is still queued. */
  circuits?: CircuitView | undefined;
}

/**
 * Waits for a queued write up to `outbox.waitMs`, telling a caller that asked for progress that it
 * is still queued, and answers as the direct call did. Cancelled by its caller before it was sent,
 * the job is cancelled; after, the answer says it was sent. Past the wait: the job's handle. A
 * caller that went away without cancelling (a 2025 connection closed: CallerGone, "a disconnection
 * is not a cancellation") and a hub that stops leave the job queued, to be sent by this or another
 * process, and get the handle where an answer can still be written.
 */
export async function awaitWrite(o: WaitOptions): Promise<CallToolResult> {
  const owner = { tenant: o.ctx.identity.tenant, user: o.ctx.identity.user };
  const { outbox, job, ctx } = o;
  const stop = outbox.stopSignal;
  let ticks = 0;
  const progress = ctx.reportProgress;
  const timer = progress
    ? setInterval(
        () => void progress({ progress: ++ticks, message: `${o.qualified}: waiting for the provider (job ${job.id})` }).catch(() => {}),
        PROGRESS_EVERY_MS,
      )
    : undefined;
  // Either ends the wait. Listeners removed after it rather than `AbortSignal.any`, which would
  // hang one signal per write call on the process's long-lived stop signal.
  const ended = new AbortController();
  const end = () => ended.abort();
  for (const s of [ctx.signal, stop]) s.addEventListener('abort', end, { once: true });
  if (ctx.signal.aborted || stop.aborted) end();
  let done: Job | undefined;
  try {
    done = await outbox.events.waitFor(job.id, () => outbox.outbox.get(job.id, owner), outbox.waitMs, ended.signal);
  } finally {
    clearInterval(timer);
    for (const s of [ctx.signal, stop]) s.removeEventListener('abort', end);
  }
  if (done === undefined && stop.aborted) {
    // One point read, so the answer tells the job's state at the stop, not the one it was queued in:
    // a job already at the provider must not be said to wait for the next process.
    const now = await outbox.outbox.get(job.id, owner).catch(() => undefined);
    if (now && isFinal(now.state)) return answerOf(o.title, o.qualified, o.request, now, o.refusal, o.schemas);
    return handle(
      job.id,
      now?.state ?? job.state,
      `${o.qualified} ${stoppedWording(now?.state, job.id)}. Call queue__job_status with {"jobId":"${job.id}"} to see its outcome.`,
    );
  }
  if (done === undefined && ctx.signal.aborted && !(ctx.signal.reason instanceof CallerGone)) {
    const c = await outbox.cancel(job.id, owner);
    if (c.outcome === 'cancelled' || c.outcome === 'not_found') throw new HubError('cancelled', `${o.qualified} was cancelled before it was sent`);
    return handle(job.id, c.state, `${o.qualified} was already sent when it was cancelled (job ${job.id}, ${c.state})`);
  }
  if (done === undefined) {
    const now = await outbox.outbox.get(job.id, owner);
    const state = now?.state ?? job.state;
    const hold = state === 'queued' ? await circuitHold(o.circuits, job.integration) : undefined;
    const why = hold ? `: ${hold.message}` : '';
    return handle(
      job.id,
      state,
      `${o.qualified} is still in the outbound queue (job ${job.id}, ${state})${why}. Call queue__job_status with {"jobId":"${job.id}"} to see its outcome.`,
      hold,
    );
  }
  const open = await outbox.outbox.get(job.id, owner);
  if (open === undefined) throw new HubError('internal', `${o.qualified}: job ${job.id} vanished`);
  return answerOf(o.title, o.qualified, o.request, open, o.refusal, o.schemas);
}

/** What became of a job whose wait the stopping hub cut short, `undefined` when the store did not answer. */
function stoppedWording(state: JobState | undefined, id: string): string {
  switch (state) {
    case 'queued':
      return `is still in the outbound queue (job ${id}): this Switchboard process is stopping, and the job stays queued for the next one to send`;
    case 'sending':
      return `was being sent when this Switchboard process stopped (job ${id})`;
    default:
      return `was in the outbound queue when this Switchboard process stopped (job ${id}), and its state could not be read`;
  }
}

function handle(jobId: string, state: string, text: string, hold?: CircuitHold): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { jobId, state, ...(hold ? { circuit: hold } : {}) } };
}

/**
 * A final job of `definition`'s integration as the tool result the direct call would have given:
 * what a queued write run as an MCP Task completes with (src/mcp/tasks/backings/outbox-job.ts).
 */
export function answerOfJob(definition: IntegrationDefinition, job: OpenJob): CallToolResult {
  const tool = definition.tools[job.tool];
  // The template's method and path only (for the answer's words); a handler's stored answer is its result.
  const request = tool && !tool.handler ? httpRequestOf(tool, job.arguments) : undefined;
  return answerOf(definition.title, `${definition.name}__${job.tool}`, request, job, definition.refusal, tool);
}

/** A final job as the tool result the direct call would have given. */
export function answerOf(
  title: string,
  qualified: string,
  request: Pick<HttpRequest, 'method' | 'path'> | undefined,
  job: OpenJob,
  refusal?: Refusal,
  schemas?: ToolSchemas,
): CallToolResult {
  if (job.result && (job.state === 'done' || job.state === 'failed'))
    return request ? renderStored(title, request, job.result, refusal, schemas) : storedHandlerResult(qualified, job.result);
  // Refused before an answer came (a redirect out of the API base, a revoked connection): as the
  // direct call threw it, under the code the send failed with (kept with the job).
  if (job.state === 'failed') {
    const code = isHubErrorCode(job.lastErrorCode) ? job.lastErrorCode : 'source_failed';
    throw new HubError(code, titled(title, job.lastError ?? 'the write was refused'));
  }
  const why = job.lastError ? `: ${job.lastError}` : '';
  if (job.state === 'sent_unconfirmed')
    return errorResult(`${qualified} may or may not have been applied (job ${job.id}): the connection ended after it was sent${why}`);
  if (job.state === 'cancelled') return errorResult(`${qualified} was cancelled before it was sent (job ${job.id})`);
  return errorResult(`${qualified} did not complete (job ${job.id}, ${job.state})${why}`);
}

/**
 * The stored answer keeps the status and body only: a body that parses as JSON is shown as the
 * JSON answer it was (the direct call read the content type for that).
 */
function renderStored(title: string, request: Pick<HttpRequest, 'method' | 'path'>, r: JobResult, refusal?: Refusal, schemas?: ToolSchemas): CallToolResult {
  if (r.truncated) return renderCut(title, request, r, refusal, schemas);
  let json = false;
  try {
    JSON.parse(r.body);
    json = r.body !== '';
  } catch {
    json = false;
  }
  const headers = new Headers(json ? { 'content-type': 'application/json' } : {});
  return renderAnswer(title, request, { status: r.status, statusText: nodeHttp().STATUS_CODES[r.status] ?? '', headers, text: r.body }, refusal, schemas);
}

/**
 * A stored answer the outbox cut at its cap (MAX_RESULT_BODY_CHARS): shown as the text kept, after a
 * line saying it was cut and how long the whole was, never as JSON. The first part of a JSON body
 * does not parse, and structuredContent read from it would be a value the provider never sent. The
 * outbox judged the whole answer when it came (done, or refused), so a done write stays a success:
 * an error would have the caller make it again.
 */
function renderCut(title: string, request: Pick<HttpRequest, 'method' | 'path'>, r: JobResult, refusal?: Refusal, schemas?: ToolSchemas): CallToolResult {
  const shown = renderAnswer(
    title,
    request,
    { status: r.status, statusText: nodeHttp().STATUS_CODES[r.status] ?? '', headers: new Headers(), text: r.body },
    refusal,
    schemas,
  );
  if (shown.isError) return shown;
  return { ...shown, content: [{ type: 'text', text: cutNotice(`${title} answered ${request.method} ${request.path}`, r) }, ...shown.content] };
}

/** What a cut answer's first line says: that it was cut, where, and how long the whole was when known. */
function cutNotice(what: string, r: JobResult): string {
  const whole = r.wholeChars === undefined ? '' : ` of ${r.wholeChars}`;
  return `${what}, but the answer was longer than the outbox keeps: below are its first ${r.body.length}${whole} characters, cut there (so not read as JSON).`;
}

/** Parsed back, as every stored value is; a result cut at the outbox's cap is shown as the text kept. */
function storedHandlerResult(qualified: string, r: JobResult): CallToolResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    parsed = undefined;
  }
  if (isCallToolResult(parsed)) return parsed;
  const why = r.truncated
    ? `longer than the outbox keeps (${r.wholeChars === undefined ? 'cut' : `${r.wholeChars} characters, cut`} at ${r.body.length})`
    : 'not a tool result';
  return errorResult(`${qualified} completed, but its answer was ${why}; what was kept: ${cutText(r.body, 2000)}`);
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
