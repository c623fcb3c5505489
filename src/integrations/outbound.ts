import { STATUS_CODES } from 'node:http';
import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { HubError } from '../errors.js';
import type { CallContext } from '../mcp/source.js';
import type { OutboxService } from '../outbox/service.js';
import type { Job, OpenJob } from '../outbox/types.js';
import { renderAnswer, type HttpRequest } from './http-tool.js';

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

export interface WaitOptions {
  outbox: OutboxService;
  job: Job;
  ctx: CallContext;
  title: string;
  qualified: string;
  request: Pick<HttpRequest, 'method' | 'path'>;
}

/**
 * Waits for a queued write up to `outbox.waitMs`, telling a caller that asked for progress that it
 * is still queued, and answers as the direct call did. Cancelled before it was sent, the job is
 * cancelled; after, the answer says it was sent. Past the wait: the job's handle.
 */
export async function awaitWrite(o: WaitOptions): Promise<CallToolResult> {
  const owner = { tenant: o.ctx.identity.tenant, user: o.ctx.identity.user };
  const { outbox, job, ctx } = o;
  let ticks = 0;
  const progress = ctx.reportProgress;
  const timer = progress
    ? setInterval(
        () => void progress({ progress: ++ticks, message: `${o.qualified}: waiting for the provider (job ${job.id})` }).catch(() => {}),
        PROGRESS_EVERY_MS,
      )
    : undefined;
  let done: Job | undefined;
  try {
    done = await outbox.events.waitFor(job.id, () => outbox.outbox.get(job.id, owner), outbox.waitMs, ctx.signal);
  } finally {
    clearInterval(timer);
  }
  if (done === undefined && ctx.signal.aborted) {
    const c = await outbox.cancel(job.id, owner);
    if (c.outcome === 'cancelled' || c.outcome === 'not_found') throw new HubError('cancelled', `${o.qualified} was cancelled before it was sent`);
    return handle(job.id, c.state, `${o.qualified} was already sent when it was cancelled (job ${job.id}, ${c.state})`);
  }
  if (done === undefined) {
    const now = await outbox.outbox.get(job.id, owner);
    return handle(
      job.id,
      now?.state ?? job.state,
      `${o.qualified} is still in the outbound queue (job ${job.id}, ${now?.state ?? job.state}). Call queue__job_status with {"jobId":"${job.id}"} to see its outcome.`,
    );
  }
  const open = await outbox.outbox.get(job.id, owner);
  if (open === undefined) throw new HubError('internal', `${o.qualified}: job ${job.id} vanished`);
  return answerOf(o.title, o.qualified, o.request, open);
}

function handle(jobId: string, state: string, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { jobId, state } };
}

/** A final job as the tool result the direct call would have given. */
export function answerOf(title: string, qualified: string, request: Pick<HttpRequest, 'method' | 'path'>, job: OpenJob): CallToolResult {
  if (job.result && (job.state === 'done' || job.state === 'failed')) return renderStored(title, request, job.result);
  // Refused before an answer came (a redirect out of the API base, a revoked connection): as the direct call threw it.
  if (job.state === 'failed') throw new HubError('source_failed', `${title}: ${job.lastError ?? 'the write was refused'}`);
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
function renderStored(title: string, request: Pick<HttpRequest, 'method' | 'path'>, r: { status: number; body: string }): CallToolResult {
  let json = false;
  try {
    JSON.parse(r.body);
    json = r.body !== '';
  } catch {
    json = false;
  }
  const headers = new Headers(json ? { 'content-type': 'application/json' } : {});
  return renderAnswer(title, request, { status: r.status, statusText: STATUS_CODES[r.status] ?? '', headers, text: r.body });
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
