import { Server, type Implementation, type RequestMethod, type ServerContext } from '@modelcontextprotocol/server';
import type { Identity } from '../identity/identity.js';
import type { Dispatcher } from './dispatch.js';
import type { CallContext } from './source.js';

export type Era = 'legacy' | 'modern';

export const SERVER_INFO: Implementation = { name: 'switchboard', version: '0.1.0' };

const INSTRUCTIONS =
  'Switchboard aggregates tools from linked SaaS accounts, AI agents and other MCP servers. ' +
  'Tool names are <source>__<tool>; _meta["switchboard/source"] names where a tool comes from.';

/**
 * A low-level Server for one serving unit (a 2025 session, a stdio connection, or one 2026-era
 * request). Only handler closures are created here; the catalog and dispatch live outside, so a
 * per-request instance is cheap.
 */
export interface ServerHooks {
  /** Told of resource subscriptions, so a session can route `resources/updated` to its client. */
  onSubscribe?: (uri: string, on: boolean) => void;
}

export function createHubServer(dispatcher: Dispatcher, identity: Identity, era: Era, hooks: ServerHooks = {}): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      completions: {},
      logging: {},
    },
    instructions: INSTRUCTIONS,
  });

  const context = (ctx: ServerContext): CallContext => callContext(server, ctx, identity, era);

  server.setRequestHandler('tools/list', (req) => dispatcher.listTools(identity, req.params?.cursor));
  server.setRequestHandler('tools/call', async (req, ctx) => {
    const { result, outputSchema } = await dispatcher.callTool(req.params, context(ctx));
    return server.projectCallToolResult(result, outputSchema);
  });
  server.setRequestHandler('prompts/list', (req) => dispatcher.listPrompts(identity, req.params?.cursor));
  server.setRequestHandler('prompts/get', (req, ctx) => dispatcher.getPrompt(req.params.name, req.params.arguments, context(ctx)));
  server.setRequestHandler('resources/list', (req) => dispatcher.listResources(identity, req.params?.cursor));
  server.setRequestHandler('resources/templates/list', (req) => dispatcher.listResourceTemplates(identity, req.params?.cursor));
  server.setRequestHandler('resources/read', (req, ctx) => dispatcher.readResource(req.params.uri, context(ctx)));
  server.setRequestHandler('resources/subscribe', async (req) => {
    await dispatcher.subscribe(req.params.uri, identity, true);
    hooks.onSubscribe?.(req.params.uri, true);
    return {};
  });
  server.setRequestHandler('resources/unsubscribe', async (req) => {
    await dispatcher.subscribe(req.params.uri, identity, false);
    hooks.onSubscribe?.(req.params.uri, false);
    return {};
  });
  server.setRequestHandler('completion/complete', (req, ctx) => dispatcher.complete(req.params, context(ctx)));
  return server;
}

function callContext(server: Server, ctx: ServerContext, identity: Identity, era: Era): CallContext {
  const token = ctx.mcpReq._meta?.progressToken;
  const { progressToken: _drop, ...meta } = ctx.mcpReq._meta ?? {};
  const out: CallContext = {
    identity,
    signal: ctx.mcpReq.signal,
    notify: (n) => ctx.mcpReq.notify(n),
    meta,
  };
  const closeSSE = ctx.http?.closeSSE;
  if (closeSSE) out.closeSSE = closeSSE;
  const caps = server.getClientCapabilities();
  if (caps) out.clientCapabilities = caps as Record<string, unknown>;
  if (token !== undefined) {
    out.reportProgress = (p) =>
      ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, ...p } });
  }
  if (era === 'legacy') {
    // 2025-era connections keep the server→client request channel; 2026 has none (input_required instead).
    out.request = (req, opts) =>
      ctx.mcpReq.send({ method: req.method as RequestMethod, params: req.params ?? {} }, {
        signal: opts.signal,
        ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
      });
  }
  return out;
}
