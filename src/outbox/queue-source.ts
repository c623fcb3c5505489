import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ERROR_META_KEY, ERROR_SPECS } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { toolError, unknownTool, type CallContext, type SourceChange, type SourceStatus, type ToolSource } from '../mcp/source.js';
import type { OutboxService } from './service.js';
import { describeIssues } from '../mcp/hub-server.js';
import type { BreakerSnapshot } from './breaker.js';

const JOB_STATUS = 'job_status';
const inputSchema = z.strictObject({ jobId: z.string().min(1).max(128) });

const TOOL: Tool = {
  name: JOB_STATUS,
  title: 'Outbound write status',
  description:
    "The state of a write an integration tool queued (its jobId came back when the call outlasted its wait) and, once finished, the provider's answer.",
  inputSchema: { type: 'object', properties: { jobId: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['jobId'], additionalProperties: false },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
};

/** What a queued write's answer reads of the circuits: `CircuitBreakers` in one process, the shared `Breakers` on Redis. */
export interface CircuitView {
  snapshot(): readonly BreakerSnapshot[] | Promise<readonly BreakerSnapshot[]>;
}

/** An open (or probing) circuit holding an integration's queued writes, as a job's handle and status show it. */
export interface CircuitHold {
  state: 'open' | 'half_open';
  failures: number;
  /** When an open circuit lets its probe through (ISO 8601); absent while a probe is under way. */
  retryAt?: string;
  message: string;
}

/**
 * Why a queued write has not gone, when its integration's circuit holds it: the worker gives such a
 * job back unsent until the circuit retries (README, "The circuit breaker"), and a caller told only
 * "still queued" could not tell an outage from a slow queue (issue 9: "says why and when it
 * retries"). Undefined when the circuit is closed or cannot be read.
 */
export async function circuitHold(circuits: CircuitView | undefined, integration: string): Promise<CircuitHold | undefined> {
  const all = await Promise.resolve(circuits?.snapshot()).catch(() => undefined);
  const c = all?.find((b) => b.integration === integration);
  if (c === undefined || c.state === 'closed') return undefined;
  const retryAt = c.retryAt === undefined ? undefined : new Date(c.retryAt).toISOString();
  const when = retryAt === undefined ? 'a probe is under way' : `it retries at ${retryAt}`;
  return {
    state: c.state,
    failures: c.failures,
    ...(retryAt === undefined ? {} : { retryAt }),
    message: `${integration} is failing (its circuit is ${c.state === 'open' ? 'open' : 'half-open'} after ${c.failures} consecutive 5xx answers, timeouts or network errors), so its writes are paused; ${when}`,
  };
}

/**
 * The hub's own `queue` source: `queue__job_status` shows a job to its owner only; another user's
 * job answers as an unknown one, so job ids reveal nothing across users.
 */
export class QueueSource implements ToolSource {
  readonly name = 'queue';
  readonly kind = 'fixture';
  readonly prefix = true;
  private readonly since: number;

  constructor(
    private readonly outbox: OutboxService,
    clock: Clock,
    /** Listed only where some write is queued: elsewhere there is no job to ask about. */
    private readonly listed: boolean,
    /** The integrations' circuits: a queued job whose circuit is open says so, and when it retries. */
    private readonly circuits?: CircuitView,
  ) {
    this.since = clock.now();
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  status(): SourceStatus {
    return { state: 'ready', since: this.since, restarts: 0 };
  }

  tools(_identity: Identity): readonly Tool[] {
    return this.listed ? [TOOL] : [];
  }

  onChange(_listener: (c: SourceChange) => void): () => void {
    return () => {};
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult> {
    if (name !== JOB_STATUS) throw unknownTool(name);
    const parsed = inputSchema.safeParse(args ?? {});
    if (!parsed.success)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid arguments for queue__job_status: ${describeIssues(parsed.error.issues)}`);
    const { jobId } = parsed.data;
    const job = await this.outbox.outbox.get(jobId, { tenant: ctx.identity.tenant, user: ctx.identity.user });
    // A failed call carries its code as every other one does (README, HTTP routes): `not_found`, not retryable.
    if (job === undefined)
      return toolError(`No job ${jobId} of yours is known.`, {
        _meta: { [ERROR_META_KEY]: { code: 'not_found', retryable: ERROR_SPECS.not_found.retryable } },
      });
    const hold = job.state === 'queued' ? await circuitHold(this.circuits, job.integration) : undefined;
    const status = {
      jobId: job.id,
      state: job.state,
      integration: job.integration,
      tool: job.tool,
      // Every request sent; `paced` of them were rate-limited and spent no attempt of maxAttempts.
      attempts: job.attempts,
      paced: job.paced,
      ...(job.lastError ? { lastError: job.lastError } : {}),
      ...(job.result ? { result: job.result } : {}),
      ...(hold ? { circuit: hold } : {}),
    };
    return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
  }
}
