import { titled, withCause } from './titled.js';
import { ProtocolError, type CallToolResult, type ReadResourceResult, type Resource, type Tool } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { ConnectionStates } from '../connections/states.js';
import type { ConnectionReads } from '../connections/repository.js';
import { HubError, describeError, isHubError, needsNewLink } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { TokenManager } from '../oauth/token-manager.js';
import {
  unknownTool,
  type CallContext,
  type InputRequired,
  type ResourceUpdatedListener,
  type SourceChange,
  type SourceStatus,
  type ToolSource,
} from '../mcp/source.js';
import { isCreateTaskResult, type CreateTaskResult } from '../mcp/tasks/wire.js';
import { closeSchema, inputValidator, type InputValidator } from '../mcp/validate-input.js';
import { createProviderClient, type ProviderClient, type ProviderLimits } from '../providers/client.js';
import { oauthCredentials, type Credentials } from '../providers/credentials.js';
import type { IntegrationDefinition, ToolDefinition } from './definition.js';
import { EVENTS_TOOL, EventsView, noEvents, type ShownEvents } from './events.js';
import { httpRequestOf, runHttpTool } from './http-tool.js';
import type { ConnectionBases } from './connection-base.js';
import { JobSender } from './job-sender.js';
import { LinkOffers } from './link-needed.js';
import { outputRule, unfitResult } from './output-fit.js';
import type { OutputRule } from '../agents/validate-output.js';
import { answerOfJob, appQueueOf, awaitWrite, callerKey, normalise, orderingKeyOf, unkeyedOrderingKeyOf, writeOutputSchema } from './outbound.js';
import type { Clock } from '../clock.js';
import type { CircuitBreakers } from '../outbox/breaker.js';
import type { Breakers } from '../outbox/redis/shapes.js';
import type { SendOutcome } from '../outbox/classify.js';
import type { OutboxService } from '../outbox/service.js';
import type { Job, OpenJob } from '../outbox/types.js';
import { siteDigest } from '../outbox/site.js';
import { storeFailureOf } from '../store/sqlite-failure.js';

export const META_CONNECTION = 'switchboard/connection';

export interface IntegrationSourceOptions {
  definition: IntegrationDefinition;
  connections: ConnectionReads;
  /** Each identity's connection states, kept fresh by the change feed: listing reads these, not SQL. */
  states: ConnectionStates;
  tokens: TokenManager;
  /** A signed link that starts linking this integration for this identity. */
  linkUrl: (identity: Identity) => string;
  /** Settles once links name where they open (LinkSigner.settled). */
  linksSettled?: () => Promise<void>;
  /** A warning to show with the link while the hub at the public URL would reject it. */
  linkNotice?: () => string | undefined;
  log: Logger;
  since: number;
  /** How this integration's API is called; one client is shared by every integration of a hub. */
  provider?: ProviderClient;
  /** This integration's timeout, response cap and retries, over the client's defaults. */
  limits?: Partial<ProviderLimits>;
  /**
   * One key for every user (or none), from config: the API is called with it and nothing is
   * linked. Absent: each user's OAuth connection is used and an unlinked call answers with a link.
   */
  credentials?: Credentials;
  /** The inbox's events; with it an integration that declares webhooks or polling shows them to MCP clients. */
  events?: ShownEvents;
  /** Each connection's API base (apiBaseUrl filled with its link's values); absent, apiBaseUrl is every connection's. */
  bases?: ConnectionBases;
  /**
   * With it, a write tool (not `readOnly`, a template or a handler) is queued in the outbox and sent
   * by its worker (paced, retried, behind the integration's breaker); without it, called directly.
   */
  outbound?: { service: OutboxService; breakers: CircuitBreakers | Breakers; clock: Clock; orderingSecret: () => Buffer };
}

/**
 * A user's SaaS account as a tool source. Tools are listed whether or not the account is linked,
 * so the model can find them; calling one unlinked answers with the link (URL elicitation where
 * the client supports it, otherwise an isError result whose text gives the link).
 */
export class IntegrationSource implements ToolSource {
  readonly kind = 'integration';
  readonly prefix = true;
  readonly name: string;
  private readonly listeners = new Set<(c: SourceChange) => void>();
  private readonly validators = new Map<string, InputValidator>();
  private readonly outputRules = new Map<string, OutputRule>();
  private readonly provider: ProviderClient;
  private readonly events: EventsView | undefined;
  private readonly links: LinkOffers;
  private readonly jobs: JobSender | undefined;

  constructor(private readonly opts: IntegrationSourceOptions) {
    this.name = opts.definition.name;
    this.provider = opts.provider ?? createProviderClient();
    const d = opts.definition;
    this.events = opts.events && (d.webhooks !== undefined || d.poll !== undefined) ? new EventsView(this.name, d.title, opts.events) : undefined;
    this.links = new LinkOffers({
      title: d.title,
      connections: opts.connections,
      linkUrl: opts.linkUrl,
      linksSettled: opts.linksSettled,
      linkNotice: opts.linkNotice,
    });
    const out = opts.outbound;
    this.jobs =
      out &&
      new JobSender({
        definition: d,
        ...(opts.bases ? { bases: opts.bases } : {}),
        provider: this.provider,
        tokens: opts.tokens,
        log: opts.log,
        clock: out.clock,
        breakers: out.breakers,
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.limits ? { limits: opts.limits } : {}),
      });
    // The feed's changes for this integration reach the owner's clients as list_changed.
    opts.states.onChange((c) => {
      if (c.integration === this.name) this.connectionChanged({ tenant: c.tenant, user: c.user, scopes: [] });
    });
  }

  get definition(): IntegrationDefinition {
    return this.opts.definition;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** Lists wait for the connection states' first load, so a linked account is never listed as unlinked. */
  whenListable(): Promise<void> {
    return this.opts.states.whenLoaded();
  }

  status(): SourceStatus {
    return { state: 'ready', since: this.opts.since, restarts: 0 };
  }

  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when an identity's connection to this integration changed (linked, needs re-auth, revoked). */
  connectionChanged(identity: Identity): void {
    for (const l of this.listeners) l({ kind: 'tools', identities: [identity] });
  }

  /** The output schema a tool is listed with: a queued write's also takes its job's handle. */
  private outputSchemaOf(t: ToolDefinition, output: Record<string, unknown>): NonNullable<Tool['outputSchema']> {
    return (this.queued(t) ? writeOutputSchema(output) : { type: 'object', ...output }) as NonNullable<Tool['outputSchema']>;
  }

  tools(identity: Identity): readonly Tool[] {
    const state = this.opts.credentials ? 'not_required' : this.opts.states.stateOf(identity, this.name);
    const hint =
      state === 'active' || state === 'not_required' ? '' : ` (Needs your ${this.opts.definition.title} account: calling it returns a link to connect it.)`;
    const own = Object.entries(this.opts.definition.tools).map(([name, t]) => ({
      name,
      ...(t.title ? { title: t.title } : {}),
      description: t.description + hint,
      // As it is checked (validate-input.ts): an argument the schema does not declare is refused, so the list says so.
      inputSchema: closeSchema({ type: 'object', ...t.input }) as Tool['inputSchema'],
      ...(t.output ? { outputSchema: this.outputSchemaOf(t, t.output) } : {}),
      annotations: {
        readOnlyHint: t.readOnly,
        ...(t.destructive === undefined ? {} : { destructiveHint: t.destructive }),
        ...(t.idempotent === undefined ? {} : { idempotentHint: t.idempotent }),
        openWorldHint: true,
      },
      // A queued write can be an MCP Task: its state is the outbox job.
      ...(this.queued(t) ? { execution: { taskSupport: 'optional' as const } } : {}),
      _meta: { [META_CONNECTION]: state },
    }));
    // Every tool of the integration names the connection's state, the events tool too (unlinked, it has none to show).
    return this.events ? [...own, { ...this.events.tool(), _meta: { [META_CONNECTION]: state } }] : own;
  }

  resources(_identity: Identity): readonly Resource[] {
    return this.events ? [this.events.resource()] : [];
  }

  async readResource(uri: string, ctx: CallContext): Promise<ReadResourceResult | undefined> {
    return this.events?.read(uri, ctx.identity);
  }

  /** The events resource is one URI whose updates the hub sends to the owner's subscribers only. */
  async subscribeResource(uri: string): Promise<boolean> {
    return uri === this.events?.uri;
  }

  async unsubscribeResource(uri: string): Promise<boolean> {
    return uri === this.events?.uri;
  }

  onResourceUpdated(listener: ResourceUpdatedListener): () => void {
    return this.events?.onUpdated(listener) ?? (() => {});
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired | CreateTaskResult> {
    if (name === EVENTS_TOOL && this.events) return this.recentEvents(this.events, args ?? {}, ctx);
    const tool = this.opts.definition.tools[name];
    if (!tool) throw unknownTool(name);
    const input = args ?? {};
    this.validator(name, tool)(input);
    const keyed = this.opts.credentials;
    const c = keyed ? undefined : await this.opts.connections.find(ctx.identity.tenant, ctx.identity.user, this.name);
    if (!keyed && c?.state !== 'active') return this.links.forCall(ctx, c);
    // The connection's own base, before anything is queued or sent: one its link did not fill gets the link again.
    let apiBaseUrl = this.opts.definition.apiBaseUrl;
    try {
      if (c && this.opts.bases) apiBaseUrl = await this.opts.bases.of(c);
    } catch (err) {
      if (c && needsNewLink(err)) return this.links.again(ctx, c);
      throw err;
    }
    if (this.queued(tool)) {
      // A write that found the connection needing a new link (its refresh was refused) gets the link, as a read does.
      // The site its connection is on now, which the job keeps: relinked to another before it is sent, it is sent nowhere.
      const site = c && this.opts.bases ? siteDigest(c.apiValues) : null;
      return this.queueWrite(name, tool, input, ctx, c?.id ?? appQueueOf(ctx.identity), site).then(
        (r) => (isCreateTaskResult(r) ? r : this.fitted(name, tool, r)),
        (err: unknown) => (c && needsNewLink(err) ? this.links.again(ctx, c) : Promise.reject(err)),
      );
    }
    const fetch = this.provider.bind({
      label: this.opts.definition.title,
      apiBaseUrl,
      // A key from config is the app's, so its calls are paced per app; a linked account's per connection.
      // Sent only while that base is still the connection's: a relink to another site may come while it waits.
      credentials:
        keyed ??
        (this.opts.bases ? this.opts.bases.tied(c!.id, apiBaseUrl, oauthCredentials(this.opts.tokens, c!.id)) : oauthCredentials(this.opts.tokens, c!.id)),
      paceKey: c ? `${this.name}:${c.id}` : `${this.name}:app`,
      idempotent: tool.idempotent === true,
      // Slack's `invalid_auth` in a 200 is read as a 401: refreshed once, then the link is offered.
      refusal: this.opts.definition.refusal,
      waitsWithinTimeout: true,
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      signal: ctx.signal,
    });
    try {
      if (tool.handler) return this.fitted(name, tool, normalise(await tool.handler(input, { fetch, signal: ctx.signal, log: this.opts.log })));
      return this.fitted(name, tool, await runHttpTool({ ...this.opts.definition, apiBaseUrl }, tool, input, fetch, ctx.signal));
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      if (c && needsNewLink(err)) return this.links.again(ctx, c);
      if (ctx.signal.aborted) throw new HubError('cancelled', `${this.name}__${name} was cancelled`, { cause: err });
      // Typed for the dispatcher, which takes the result, outcome and log level from the error table.
      const title = this.opts.definition.title;
      if (!isHubError(err))
        throw storeFailureOf(err, `calling ${this.name}__${name}`) ?? new HubError('source_failed', titled(title, describeError(err)), { cause: err });
      throw new HubError(err.code, titled(title, withCause(err)), { cause: err, ...(err.details ? { details: { ...err.details } } : {}) });
    }
  }

  /** Whether any tool of this integration is sent through the outbox (the hub then lists queue__job_status). */
  get queuesWrites(): boolean {
    return Object.values(this.opts.definition.tools).some((t) => this.queued(t));
  }

  /** Whether calls of this tool go through the outbox: every write, a template's or a handler's. */
  private queued(tool: ToolDefinition): boolean {
    return this.opts.outbound !== undefined && !tool.readOnly;
  }

  private async queueWrite(name: string, tool: ToolDefinition, input: Record<string, unknown>, ctx: CallContext, connectionId: string, site: string | null) {
    const { service, orderingSecret, breakers } = this.opts.outbound!;
    // Built now only to refuse a bad path argument before anything is queued (a handler has none).
    const request = tool.handler ? undefined : httpRequestOf(tool, input);
    const key = callerKey(ctx);
    const orderingKey = orderingKeyOf(this.name, tool.ordering, input, orderingSecret());
    const unkeyedOrderingKey = unkeyedOrderingKeyOf(this.name, tool.ordering, input);
    const { job } = await service.outbox.enqueue({
      tenant: ctx.identity.tenant,
      user: ctx.identity.user,
      connectionId,
      integration: this.name,
      tool: name,
      arguments: input,
      ...(key === undefined ? {} : { idempotencyKey: key }),
      ...(orderingKey === undefined ? {} : { orderingKey }),
      ...(unkeyedOrderingKey === undefined ? {} : { unkeyedOrderingKey }),
      sensitive: tool.sensitive === true,
      // A handler too: its writes carry keys made from the job id (keyedFetch), or it declared itself idempotent.
      replaySafe: this.opts.definition.idempotencyHeader !== undefined || tool.idempotent === true,
      ...(site === null ? {} : { siteDigest: site }),
    });
    service.worker.wake();
    // As an MCP Task the job is the task's state, so the call answers at once (backings/outbox-job.ts).
    if (ctx.tasks) return ctx.tasks.backed('outbox_job', job.id);
    const { title, refusal } = this.opts.definition;
    return awaitWrite({ outbox: service, job, ctx, title, qualified: `${this.name}__${name}`, request, refusal, schemas: tool, circuits: breakers });
  }

  /** Sends one queued write (the outbox worker's send function): see JobSender. */
  sendJob(job: OpenJob, signal: AbortSignal, beforeSend?: () => Promise<void>): Promise<SendOutcome> {
    if (this.jobs === undefined) throw new HubError('internal', `${this.name} queues no writes`);
    return this.jobs.send(job, signal, beforeSend);
  }

  /**
   * The caller's own events, which need no live account (a connection to re-link still shows its
   * past events). Never linked, with none to show, the caller needs the link, as every other tool
   * of the integration answers: an empty list would read as "nothing happened".
   */
  private async recentEvents(events: EventsView, args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult | InputRequired> {
    const answer = await events.call(args, ctx.identity);
    if (this.opts.credentials || !noEvents(answer)) return answer;
    const c = await this.opts.connections.find(ctx.identity.tenant, ctx.identity.user, this.name);
    return c === undefined ? this.links.forCall(ctx, undefined) : answer;
  }

  /**
   * A finished queued write as its MCP Task's result: the answer the direct call gives, held to the
   * output schema the tool is listed with as that call's is (fitted), so an answer that does not
   * fit is the same tool error there, never structuredContent the client's SDK refuses. Throws
   * where the direct call threw (answerOfJob).
   */
  jobAnswer(job: OpenJob): CallToolResult {
    const result = answerOfJob(this.opts.definition, job);
    const tool = this.opts.definition.tools[job.tool];
    return tool ? this.fitted(job.tool, tool, result) : result;
  }

  /** A queued write that failed for want of a new link, as its MCP Task's result (LinkOffers.forJob). */
  relinkResult(job: Pick<Job, 'tenant' | 'user' | 'connectionId'>): Promise<CallToolResult> {
    return this.links.forJob(job);
  }

  /**
   * A successful result held to the output schema the tool is listed with (output-fit.ts): one that
   * does not fit is a tool error naming the mismatch, never a result the client refuses.
   */
  private fitted(name: string, tool: ToolDefinition, result: CallToolResult): CallToolResult {
    if (tool.output === undefined || result.isError) return result;
    let rule = this.outputRules.get(name);
    if (!rule) {
      rule = outputRule(this.outputSchemaOf(tool, tool.output));
      this.outputRules.set(name, rule);
    }
    const why = rule(result.structuredContent);
    if (why === undefined) return result;
    // The reason names paths and types, never the answer's values.
    this.opts.log.warn({ integration: this.name, tool: name, why }, "a provider's answer does not fit the tool's output schema");
    return unfitResult({ qualified: `${this.name}__${name}`, title: this.opts.definition.title, why, write: !tool.readOnly }, result);
  }

  private validator(name: string, tool: ToolDefinition): InputValidator {
    let v = this.validators.get(name);
    if (!v) {
      v = inputValidator(`${this.name}__${name}`, tool.input);
      this.validators.set(name, v);
    }
    return v;
  }
}
