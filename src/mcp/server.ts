import { isRecord } from '../is-record.js';
import {
  CLIENT_CAPABILITIES_META_KEY,
  isInputRequiredResult,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type Implementation,
  type Server,
  type LoggingLevel,
  type RequestMethod,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Identity } from '../identity/identity.js';
import { requestedTtl, type Dispatcher } from './dispatch.js';
import { HubServer } from './hub-server.js';
import { rootsChanged } from './roots-changes.js';
import type { RequestStates, StateTarget } from './request-state.js';
import type { CallContext } from './source.js';
import { TASKS_EXTENSION } from './tasks/errors.js';
import { declaresTasks, envelopeCapabilities, registerTaskMethods } from './tasks/handlers.js';
import { announceStatus, LEGACY_TASKS_CAPABILITY, legacyCreated, legacyCreateTaskResult, registerLegacyTaskMethods } from './tasks/legacy.js';
import { createTaskResult, isCreateTaskResult } from './tasks/wire.js';

export type Era = 'legacy' | 'modern';

export const SERVER_INFO: Implementation = { name: 'switchboard', version: '0.1.0' };

const INSTRUCTIONS =
  'Switchboard aggregates tools from linked SaaS accounts, AI agents and other MCP servers. ' +
  'Tool names are <source>__<tool>; _meta["switchboard/source"] names where a tool comes from.';

export interface ServerHooks {
  /**
   * Told of resource subscriptions, so a session can route `resources/updated` to its client (and
   * let go of them when it closes): once per URI the session holds, and once when it lets go.
   */
  onSubscribe?: (uri: string, on: boolean) => void;
}

/**
 * A low-level Server for one serving unit (a 2025 session, a stdio connection, or one 2026-era
 * request). Only handler closures are created here; the catalog and dispatch live outside, so a
 * per-request instance is cheap.
 */
export function createHubServer(dispatcher: Dispatcher, identity: Identity, era: Era, hooks: ServerHooks = {}): Server {
  const server = new HubServer(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      completions: {},
      logging: {},
      // Tasks: the SEP-2663 extension on 2026-07-28 requests, the experimental v1 tasks on 2025 sessions.
      ...(dispatcher.tasks ? (era === 'modern' ? { extensions: { [TASKS_EXTENSION]: {} } } : { tasks: LEGACY_TASKS_CAPABILITY }) : {}),
    },
    instructions: INSTRUCTIONS,
    // Checked before any handler runs, on both eras (the SDK's 2025 shim re-enters through it too).
    requestState: { verify: dispatcher.requestStates.verify },
  });

  const states = dispatcher.requestStates;
  const context = (ctx: ServerContext, target?: StateTarget): CallContext => callContext(server, ctx, identity, era, target ? { states, target } : undefined);

  server.setRequestHandler('tools/list', (req) => dispatcher.listTools(identity, req.params?.cursor));
  server.setRequestHandler('tools/call', async (req, ctx) => {
    const target: StateTarget = { identity, method: 'tools/call', name: req.params.name };
    // 2026: the request declares the extension (or not); 2025: the client asks for a task with `task`.
    const tasks = !dispatcher.tasks ? undefined : era === 'modern' ? declaresTasks(envelopeCapabilities(ctx)) : req.params.task !== undefined || undefined;
    // 2025-11-25 tasks: a task asked of a tool that does not run as one, and a plain call of a tool
    // that runs only as one, are -32601, not run as a plain call (an unknown tool is left to the
    // call, which names it).
    if (era !== 'modern') {
      const entry = dispatcher.catalog.resolveTool(identity, req.params.name);
      const support = entry?.listed.execution?.taskSupport;
      if (tasks === true && entry !== undefined && support !== 'optional' && support !== 'required') {
        throw new ProtocolError(
          ProtocolErrorCode.MethodNotFound,
          `The tool ${req.params.name} does not run as a task (its execution.taskSupport is ${support ?? 'unset'})`,
        );
      }
      if (tasks !== true && support === 'required') {
        throw new ProtocolError(
          ProtocolErrorCode.MethodNotFound,
          `The tool ${req.params.name} runs only as a task (execution.taskSupport is required): call it with params.task`,
        );
      }
    }
    const called = await dispatcher.callTool(req.params, context(ctx, target), tasks);
    const { outputSchema } = called;
    let result = called.result;
    if (isInputRequiredResult(result)) return states.seal(result, target);
    // 2025-11-25: a call that asked for a task gets one, also when the tool answered at once (a
    // refusal of its arguments, an account to link): the 1.x SDK reads the answer as a task.
    if (era !== 'modern' && tasks === true && dispatcher.tasks && !isCreateTaskResult(result)) {
      const answer = result;
      result = createTaskResult(await dispatcher.tasks.runLocal(identity, req.params.name, async () => answer, requestedTtl(req.params)));
    }
    if (isCreateTaskResult(result)) {
      if (era === 'modern') {
        // The SDK checks every tools/call answer as a CallToolResult and gives one without content
        // an empty list; saying so here keeps the type honest. The outcome comes with tasks/get.
        return { ...result, content: [] };
      }
      if (!dispatcher.tasks) return { ...legacyCreateTaskResult(result), content: [] };
      announceStatus(server, dispatcher.tasks, identity, result.taskId);
      // The SDK's 2025 check refuses a `task` body without `content` (it would read as an empty
      // tool success); v1 clients read the `task` and ignore the empty content.
      return { ...(await legacyCreated(dispatcher.tasks, identity, result)), content: [] };
    }
    return server.projectCallToolResult(result, outputSchema);
  });
  server.setRequestHandler('prompts/list', (req) => dispatcher.listPrompts(identity, req.params?.cursor));
  server.setRequestHandler('prompts/get', async (req, ctx) => {
    const target: StateTarget = { identity, method: 'prompts/get', name: req.params.name };
    const result = await dispatcher.getPrompt(req.params.name, req.params.arguments, context(ctx, target));
    return isInputRequiredResult(result) ? states.seal(result, target) : result;
  });
  server.setRequestHandler('resources/list', (req) => dispatcher.listResources(identity, req.params?.cursor));
  server.setRequestHandler('resources/templates/list', (req) => dispatcher.listResourceTemplates(identity, req.params?.cursor));
  server.setRequestHandler('resources/read', async (req, ctx) => {
    const target: StateTarget = { identity, method: 'resources/read', name: req.params.uri };
    const result = await dispatcher.readResource(req.params.uri, context(ctx, target));
    return isInputRequiredResult(result) ? states.seal(result, target) : result;
  });
  // What this session (or connection) holds, each URI once: a second subscribe to a URI is the
  // first one's, and an unsubscribe of a URI it does not hold is answered as done (the spec's
  // empty result) without reaching the sources, whose holds are another session's or user's.
  const held = new Map<string, Promise<void>>();
  server.setRequestHandler('resources/subscribe', async (req) => {
    const uri = req.params.uri;
    const already = held.get(uri);
    if (already) return already.then(() => ({}));
    const made = dispatcher.subscribe(uri, identity, true);
    held.set(uri, made);
    try {
      await made;
    } catch (err) {
      if (held.get(uri) === made) held.delete(uri);
      throw err;
    }
    // Not when an unsubscribe came while it was being made: that one let go of it already.
    if (held.get(uri) === made) hooks.onSubscribe?.(uri, true);
    return {};
  });
  server.setRequestHandler('resources/unsubscribe', async (req) => {
    const uri = req.params.uri;
    const made = held.get(uri);
    if (!made) return {};
    held.delete(uri);
    // Told first, so a session that closes meanwhile does not let go of it a second time.
    hooks.onSubscribe?.(uri, false);
    if (
      await made.then(
        () => true,
        () => false,
      )
    )
      await dispatcher.subscribe(uri, identity, false);
    return {};
  });
  server.setRequestHandler('completion/complete', (req, ctx) => dispatcher.complete(req.params, context(ctx)));
  // A 2025 client's roots changed: its next call through a connection that showed its roots tells
  // the server so (roots-sync.ts), as the client told the hub. 2026-07-28 has no such notification.
  if (era === 'legacy') server.setNotificationHandler('notifications/roots/list_changed', () => rootsChanged(server));
  if (dispatcher.tasks) {
    if (era === 'modern') registerTaskMethods(server, dispatcher.tasks, identity);
    else registerLegacyTaskMethods(server, dispatcher.tasks, identity);
  }
  return server;
}

function callContext(server: Server, ctx: ServerContext, identity: Identity, era: Era, round?: { states: RequestStates; target: StateTarget }): CallContext {
  const token = ctx.mcpReq._meta?.progressToken;
  const { progressToken: _drop, ...meta } = ctx.mcpReq._meta ?? {};
  const out: CallContext = {
    identity,
    signal: ctx.mcpReq.signal,
    notify: (n) => {
      // Log messages go through the SDK's filter: the level a 2025 client set with
      // logging/setLevel, or on 2026-07-28 the request's logLevel (none given means no logs).
      const log = logMessageOf(n.params);
      if (n.method === 'notifications/message' && log) return ctx.mcpReq.log(log.level, log.data, log.logger);
      return ctx.mcpReq.notify(n);
    },
    meta,
  };
  const closeSSE = ctx.http?.closeSSE;
  if (closeSSE) out.closeSSE = closeSSE;
  // 2026-07-28 requests carry the client's capabilities in each request's envelope; 2025 clients
  // declared them once at initialize.
  // (The SDK types the envelope as `{}`, hence the widening before the lookup.)
  const envelope: Record<string, unknown> | undefined = ctx.mcpReq.envelope;
  const caps: unknown = era === 'modern' ? envelope?.[CLIENT_CAPABILITIES_META_KEY] : server.getClientCapabilities();
  if (isRecord(caps)) out.clientCapabilities = caps;
  const logLevel = era === 'modern' ? envelope?.[LOG_LEVEL_META_KEY] : (legacyLogLevel(server, ctx.sessionId) ?? 'debug');
  if (isLoggingLevel(logLevel)) out.logLevel = logLevel;
  if (round) {
    const inputResponses = ctx.mcpReq.inputResponses;
    if (inputResponses) out.inputResponses = inputResponses;
    const state = round.states.open(ctx, round.target);
    if (state !== undefined) out.requestState = state;
  }
  if (token !== undefined) {
    out.reportProgress = (p) => ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } });
  }
  if (era === 'legacy') {
    out.caller = server;
    // 2025-era connections keep the server→client request channel; 2026 has none (input_required instead).
    out.request = (req, opts) =>
      ctx.mcpReq.send(
        { method: req.method as RequestMethod, params: req.params ?? {} },
        {
          signal: opts.signal,
          ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
        },
      );
  }
  return out;
}

/**
 * The level a 2025 client set with logging/setLevel on this connection. The SDK registers that
 * handler itself and keeps the level to filter its own log calls, but exposes no reader; a
 * downstream reached on 2026-07-28 needs the level in each request, so it is read where the SDK
 * keeps it (per session id, undefined for stdio).
 */
export function legacyLogLevel(server: Server, sessionId: string | undefined): LoggingLevel | undefined {
  const levels: unknown = Reflect.get(server, '_loggingLevels');
  if (!(levels instanceof Map)) return undefined;
  const level: unknown = levels.get(sessionId) ?? levels.get(undefined);
  return isLoggingLevel(level) ? level : undefined;
}

export function logMessageOf(params: unknown): { level: LoggingLevel; data: unknown; logger?: string } | undefined {
  if (!isRecord(params)) return undefined;
  const level = params['level'];
  if (!isLoggingLevel(level)) return undefined;
  const logger = params['logger'];
  return { level, data: params['data'], ...(typeof logger === 'string' ? { logger } : {}) };
}

/** RFC 5424 severities, as MCP names them, least severe first. */
export const LOGGING_LEVELS: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

const LEVEL_NAMES: ReadonlySet<string> = new Set<string>(LOGGING_LEVELS);

function isLoggingLevel(v: unknown): v is LoggingLevel {
  return typeof v === 'string' && LEVEL_NAMES.has(v);
}
