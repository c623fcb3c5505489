import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ERROR_META_KEY, ERROR_SPECS } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { toolError, type CallContext, type SourceChange, type SourceStatus, type ToolSource } from '../mcp/source.js';
import type { OutboxService } from './service.js';
import { describeIssues } from '../mcp/hub-server.js';

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
    if (name !== JOB_STATUS) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
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
    };
    return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
  }
}
