import type { Client } from '@modelcontextprotocol/client';
import {
  inputRequired,
  isInputRequiredResult,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolRequestParams,
  type CallToolResult,
  type InputRequests,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { isStdioServer, type McpServerConfig } from '../../config/schema.js';
import { HubError, describeError, isHubError } from '../../errors.js';
import { toolError, type CallContext, type InputRequired, type StrayNotification } from '../source.js';
import { decodeHeldState, HeldCall, HeldCalls, PROCESS_ID } from './held-calls.js';
import { brokenStream, follow, ownerOf, type InFlight } from './in-flight.js';
import { SessionEnded } from './session-ended.js';
import { CALL_HEADER, callTagOf, withoutCallTag } from './relate.js';
import { withoutReservedMeta } from '../reserved-meta.js';
import { paramHeadersFor } from '../param-headers.js';
import { describeLacking, missing, requiredFor } from '../client-capabilities.js';
import type { DownstreamTaskLink } from '../tasks/backings/downstream-link.js';
import type { ModernTaskLink } from '../tasks/backings/downstream-link-2026.js';
import type { CreateTaskResult } from '../tasks/wire.js';
import { isModernClient, modernParams } from './modern.js';
import { sendToolCall } from './tool-call.js';
import { forwardProgress } from './progress.js';
import { RootsSync } from './roots-sync.js';
import { linksForModernCaller, linksOf } from './url-elicitation.js';

/** The client capability a server→client request needs. */
const CAPABILITY_OF = { 'sampling/createMessage': 'sampling', 'elicitation/create': 'elicitation', 'roots/list': 'roots' } as const;

export interface DownstreamCallsOptions {
  name: string;
  config: McpServerConfig;
  /** Why calls cannot be made now, in words a user can act on. */
  unavailable: () => string;
  /** Throws the failure as a typed HubError (or the downstream's own ProtocolError). */
  failure: (err: unknown, ctx: CallContext, what: string, signal?: AbortSignal, client?: Client) => never;
  /** Where a notification goes that no call owns, on a connection of one identity's own. */
  stray?: (n: StrayNotification) => void;
  /** How long a call waits for a 2026-07-28 caller's next round (default 10 minutes). */
  heldTtlMs?: number;
}

/**
 * The calls in flight on one connection to a downstream server, and whose each is: what relates
 * the server's requests and log messages to the one call they belong to, and what carries a call
 * across protocol eras (`input_required` passed through, or a 2025-era call held open between a
 * 2026-07-28 caller's rounds).
 */
export class DownstreamCalls {
  private readonly inflight = new Map<string, InFlight>();
  private callSeq = 0;
  private readonly held: HeldCalls;
  private readonly roots = new RootsSync<InFlight>();
  private rootsDeclared = false;
  /** Whether a tool was called since the connection became ready (its owner resets it then): a list the server changed after may be that call's doing. */
  calledSinceReady = false;
  private readonly rounds = new Map<string, { notify: CallContext['notify']; reportProgress: CallContext['reportProgress'] }>();
  /** Set while the connection is to a server that runs tools as tasks: a caller's task-augmented call goes there. */
  taskLink: DownstreamTaskLink | ModernTaskLink | undefined;

  constructor(private readonly opts: DownstreamCallsOptions) {
    this.held = new HeldCalls(opts.heldTtlMs);
  }

  /** Calls in flight or held between rounds: a connection with any is not idle. */
  get busy(): number {
    return this.inflight.size + this.rounds.size + (this.taskLink?.busy ?? 0);
  }

  /** Ends every held call (the connection is closing). */
  abortAll(): void {
    this.held.abortAll();
  }

  /**
   * The downstream ended this call's answer stream early. Ended to be resumed (SEP-1699), the
   * caller's stream is ended too, so it comes back as the hub does; broken with no resumption to
   * come (`cause`, the network error), the call fails now with that cause rather than wait out its
   * timeout for an answer nothing can bring. A call already answered is gone from here.
   */
  streamCut(tag: string, cause?: unknown): void {
    const call = this.inflight.get(tag);
    if (cause === undefined) call?.closeSSE?.();
    else call?.request.abort(brokenStream(cause));
  }

  /** One tools/call over `client` (undefined while the server is not ready), or the next round of a held one. */
  async callTool(
    client: Client | undefined,
    tool: string,
    args: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<CallToolResult | InputRequired | CreateTaskResult> {
    const held = decodeHeldState(ctx.requestState);
    if (held) return this.resumeHeld(held, ctx);
    if (!client) throw new HubError('source_unavailable', this.opts.unavailable());
    this.calledSinceReady = true;
    if (ctx.tasks && this.taskLink) return this.taskLink.start(tool, args, ctx).catch((err: unknown) => this.opts.failure(err, ctx, `tool ${tool}`));
    if (isModernClient(client)) return this.callModern(client, tool, args, ctx);
    if (!ctx.request) return this.startHeld(client, tool, args, ctx);
    const request = ctx.request;
    let refused: ProtocolError | undefined;
    // The caller has as long to answer the server's request as the call has (a person filling a
    // form): the SDK's 60 s for a request failed the call under a longer timeoutMs, where the server
    // itself waited longer.
    const askMs = this.opts.config.timeoutMs;
    const entry: InFlight = {
      ...this.entry(ctx, ctx.notify, (req, signal) => request({ method: req.method, params: req.params ?? {} }, { signal, timeoutMs: askMs })),
      refuse: (err) => {
        refused ??= err;
      },
    };
    if (this.rootsDeclared && this.roots.stale(entry.caller)) await this.roots.show(client, entry, ctx.signal);
    const result = await this.callLegacy(client, tool, args, ctx, entry);
    // The downstream asked for what the caller did not declare, and the hub refused it: the caller
    // gets the error the server gives a client that lacks the capability (-32021), not the
    // server's reaction to the hub's refusal.
    if (refused) throw refused;
    return result;
  }

  /**
   * A prompts/get or resources/read, in flight as a call is: what the server says during it (its
   * log messages, related as a call's are: the only request in flight, or all one client's)
   * reaches its caller, as directly, rather than no one or every session of the identity.
   */
  async track<T>(ctx: CallContext, send: (opts: ReturnType<DownstreamCalls['callOptions']>) => Promise<T>): Promise<T> {
    const entry = this.entry(ctx, ctx.notify);
    this.inflight.set(entry.id, entry);
    try {
      // Untagged: a broken answer stream fails the request as its own (source.ts), not as a call's.
      return await send(this.callOptions(ctx.signal));
    } finally {
      this.inflight.delete(entry.id);
    }
  }

  /**
   * A 2026-07-28 downstream asks for input in the call's own result: it goes back to the caller as
   * is (the hub seals the downstream's `requestState` inside its own), and the caller's answers
   * come back as the retry's `inputResponses`. The caller's capabilities ride in each request's
   * envelope, so the downstream judges them as it would judge the caller directly.
   */
  private async callModern(client: Client, tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired> {
    const params = { name: tool, ...(args === undefined ? {} : { arguments: args }), ...modernParams(ctx) };
    const entry = this.entry(ctx, ctx.notify);
    this.inflight.set(entry.id, entry);
    const unfollow = follow(ctx.signal, entry.request);
    try {
      const headers = paramHeadersFor(ctx.inputSchema, args);
      const result = await forwardProgress(ctx, (onprogress) =>
        sendToolCall(client, params as CallToolRequestParams, {
          ...this.callOptions(entry.request.signal, entry, headers),
          allowInputRequired: true,
          ...onprogress,
        }),
      );
      if (isInputRequiredResult(result)) return result;
      return withoutReservedMeta(result as CallToolResult);
    } catch (err) {
      return this.opts.failure(err, ctx, `tool ${tool}`, ctx.signal, client);
    } finally {
      unfollow();
      this.inflight.delete(entry.id);
    }
  }

  private entry(ctx: CallContext, notify: InFlight['notify'], ask?: InFlight['ask']): InFlight {
    return {
      id: `c${++this.callSeq}`,
      identity: ctx.identity,
      parked: 0,
      capabilities: ctx.clientCapabilities,
      caller: ctx.caller,
      notify,
      request: new AbortController(),
      ...(ask ? { ask } : {}),
      ...(ctx.closeSSE ? { closeSSE: ctx.closeSSE } : {}),
    };
  }

  private async callLegacy(
    client: Client,
    tool: string,
    args: Record<string, unknown> | undefined,
    ctx: CallContext,
    entry: InFlight,
    signal: AbortSignal = ctx.signal,
  ): Promise<CallToolResult> {
    this.inflight.set(entry.id, entry);
    const unfollow = follow(signal, entry.request);
    try {
      const params = {
        name: tool,
        ...(args === undefined ? {} : { arguments: args }),
        ...(ctx.meta && Object.keys(ctx.meta).length ? { _meta: ctx.meta } : {}),
      };
      const result = await forwardProgress(ctx, (onprogress) =>
        sendToolCall(client, params, { ...this.callOptions(entry.request.signal, entry), ...onprogress }),
      );
      return withoutReservedMeta(result as CallToolResult);
    } catch (err) {
      return this.opts.failure(err, ctx, `tool ${tool}`, signal, client);
    } finally {
      unfollow();
      this.inflight.delete(entry.id);
    }
  }

  /**
   * A 2026-07-28 caller has no server→client channel, so a 2025-era downstream's requests during
   * the call become `input_required` rounds: the downstream call is held open in this process
   * until the caller retries with its answers.
   */
  private async startHeld(client: Client, tool: string, args: Record<string, unknown> | undefined, ctx: CallContext): Promise<CallToolResult | InputRequired> {
    // Cancelled while the server was starting: nothing is sent (the round's abort link below only hears later aborts).
    if (ctx.signal.aborted)
      throw new HubError('cancelled', `${this.opts.name}: the call was cancelled before it was sent (${describeError(ctx.signal.reason)})`);
    let call: HeldCall | undefined;
    const entry: InFlight = {
      ...this.entry(
        ctx,
        (n) => round.notify(n),
        (req, signal) => call!.ask(req, signal),
      ),
      refuse: (err) => call!.fail(err),
    };
    // Progress and log messages go to whichever round of the caller is open.
    const round = { notify: ctx.notify, reportProgress: ctx.reportProgress };
    const roundCtx: CallContext = {
      ...ctx,
      notify: (n) => round.notify(n),
      reportProgress: async (p) => {
        await round.reportProgress?.(p);
      },
    };
    // A 2026-07-28 caller's roots come only as a round of its call: the server is shown none rather than another client's.
    if (this.rootsDeclared && this.roots.stale(undefined)) await this.roots.show(client, { ...entry, capabilities: {}, caller: undefined }, ctx.signal);
    const abort = new AbortController();
    call = new HeldCall(this.callLegacy(client, tool, args, roundCtx, entry, abort.signal));
    call.abort.signal.addEventListener(
      'abort',
      () => {
        abort.abort(call.abort.signal.reason);
        // Ended however (its hold expired, the hub stops): the connection is no longer busy with it.
        this.rounds.delete(call.id);
      },
      { once: true },
    );
    this.rounds.set(call.id, round);
    return this.nextRound(call, ctx);
  }

  private async resumeHeld(held: { process: string; id: string }, ctx: CallContext): Promise<CallToolResult | InputRequired> {
    if (held.process !== PROCESS_ID) {
      return toolError(
        `${this.opts.name}: this call is waiting for your answer in another Switchboard process (${held.process}) on the same data dir, and only that process can resume it. Call the tool again from the start.`,
      );
    }
    // A malformed answer is refused before the call is taken: it keeps waiting for a good retry.
    const problem = this.held.peek(held.id)?.problemWith(ctx.inputResponses);
    if (problem) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${this.opts.name}: ${problem}`);
    const call = this.held.take(held.id);
    const round = this.rounds.get(held.id);
    if (!call || !round)
      return toolError(`${this.opts.name}: this call is no longer waiting for an answer (it finished, expired or the server restarted). Call the tool again.`);
    round.notify = ctx.notify;
    round.reportProgress = ctx.reportProgress;
    call.answer(ctx.inputResponses);
    return this.nextRound(call, ctx);
  }

  private async nextRound(call: HeldCall, ctx: CallContext): Promise<CallToolResult | InputRequired> {
    // The caller going away while this round waits cancels the downstream call; a round that
    // ends with input_required leaves it running for the next round.
    const onAbort = () => call.abort.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const outcome = await call.next(call.abort.signal);
      if ('result' in outcome) {
        this.rounds.delete(call.id);
        return outcome.result;
      }
      const requestState = this.held.hold(call);
      return inputRequired({ inputRequests: outcome.requests as InputRequests, requestState });
    } catch (err) {
      this.rounds.delete(call.id);
      call.abort.abort(err);
      const links = linksOf(err);
      if (links) return linksForModernCaller(links, ctx);
      // A session the server ended is the source's to renew, and the call its to send again.
      if (err instanceof ProtocolError || isHubError(err) || err instanceof SessionEnded) throw err;
      // The caller went away (or cancelled) while this round waited: the round fails with the
      // caller's own reason, which is not the downstream's doing.
      if (ctx.signal.aborted) throw new HubError('cancelled', `${this.opts.name}: the call was cancelled (${describeError(err)})`, { cause: err });
      throw new HubError('downstream_error', `${this.opts.name}: ${describeError(err)}`, { cause: err });
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  callOptions(
    signal: AbortSignal,
    entry?: InFlight,
    extraHeaders?: Record<string, string>,
  ): { signal: AbortSignal; timeout: number; headers?: Record<string, string> } {
    // One timer per call: with no progress-based reset, `timeout` alone already bounds the whole call.
    const timeout = this.opts.config.timeoutMs;
    // Over HTTP the call's answer stream is related to it (see relate.ts); stdio has no headers.
    if (isStdioServer(this.opts.config) || (!entry && !extraHeaders)) return { signal, timeout };
    return { signal, timeout, headers: { ...extraHeaders, ...(entry ? { [CALL_HEADER]: entry.id } : {}) } };
  }

  /** The one call a server→client request or log message belongs to (in-flight.ts), or the call whose caller's roots are being shown. */
  private ownerOf(what: string, tag: string | undefined): InFlight {
    if (tag === undefined && what === 'roots/list' && this.roots.owner) return this.roots.owner;
    return ownerOf(this.inflight, what, tag, isStdioServer(this.opts.config) && this.opts.config.isolation === 'shared');
  }

  /**
   * Routes a downstream's sampling/elicitation requests and log messages to the client of the
   * call they belong to. A message said outside any call (none in flight, or the call it names has
   * ended) goes to the identity whose own connection this is (`stray`); one that may be any of
   * several calls in flight, which ownerOf will not guess between, reaches none of their clients
   * (one user's two clients are two connections: neither is shown what may be the other's). What
   * reaches no client stays in the hub's debug log; such a request is refused.
   */
  install(client: Client, log: Logger, declared: { roots: boolean }): void {
    this.rootsDeclared = declared.roots;
    const relay = (n: { method: string; params?: Record<string, unknown> | undefined }): void => {
      const tag = callTagOf(n.params);
      let call: InFlight | undefined;
      try {
        call = this.ownerOf(n.method, tag);
      } catch {
        call = undefined;
      }
      const params = withoutCallTag(n.params);
      if (call) void call.notify({ method: n.method, params }).catch(() => {});
      else if (this.opts.stray && (tag !== undefined || this.inflight.size === 0)) this.opts.stray({ method: n.method, ...(params ? { params } : {}) });
      else
        log.debug(
          { source: this.opts.name, method: n.method, calls: this.inflight.size },
          'downstream notification not relayed: no single call to relate it to',
        );
    };
    client.setNotificationHandler('notifications/message', relay);
    // What the hub has no handler for goes where a log message goes, to the call it belongs to:
    // a server's own extensions (fastmcp's notifications/tool/streamContent) and a URL
    // elicitation's notifications/elicitation/complete while its call waits.
    client.fallbackNotificationHandler = async (n) => relay(n);
    // A handler of roots/list only where `roots` was declared (the SDK refuses one otherwise).
    const methods = ['sampling/createMessage', 'elicitation/create', ...(declared.roots ? (['roots/list'] as const) : [])] as const;
    for (const method of methods) {
      client.setRequestHandler(method, async (req, ctx) => {
        // A request of a downstream task (its related-task `_meta`) waits for that task's owner.
        const forTask = this.taskLink?.request(method, withoutCallTag(req.params as Record<string, unknown> | undefined), ctx.mcpReq.signal);
        if (forTask) return (await forTask) as never;
        const tag = callTagOf(req.params);
        const call = this.ownerOf(method, tag);
        const needed = CAPABILITY_OF[method];
        if (method === 'roots/list' && call === this.roots.owner && !(call.capabilities && needed in call.capabilities)) return this.roots.none(call) as never;
        // By kind and mode: a form-only client (a bare `elicitation: {}`) is never sent a URL elicitation.
        const params = withoutCallTag((req as { params?: Record<string, unknown> }).params);
        const lacking = call.capabilities && missing(requiredFor({ method, ...(params ? { params } : {}) }) ?? { [needed]: {} }, call.capabilities);
        if (lacking) {
          const err = new MissingRequiredClientCapabilityError(
            { requiredCapabilities: lacking },
            `${method}: the request's client capabilities do not declare ${describeLacking(lacking)}`,
          );
          // What the downstream would answer the caller directly (SEP-2575): the caller learns
          // which capability it lacks, rather than reading the downstream's reaction to a refusal.
          // Not for a roots ask related to no request: servers ask roots of their own (server-everything
          // 350 ms after initialize, during a new user's first call), which directly a client without
          // roots never sees, and that call must not fail for it.
          if (method !== 'roots/list' || tag !== undefined) call.refuse?.(err);
          throw err;
        }
        if (!call.ask) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `${method} is not available: the calling client cannot answer it`);
        call.parked++;
        try {
          const answer = call.ask({ method, ...(params ? { params } : {}) }, ctx.mcpReq.signal);
          return (await (method === 'roots/list' ? this.roots.track(call, answer) : answer)) as never;
        } finally {
          call.parked--;
        }
      });
    }
  }
}
