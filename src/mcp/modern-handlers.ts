import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Response } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { identityKey, type Identity } from '../identity/identity.js';
import type { Dispatcher } from './dispatch.js';
import { modernNodeHandler, type NodeServe } from './modern-node.js';
import { createHubServer } from './server.js';
import type { ChangeKind } from './source.js';

/** Listen streams one handler may hold; the per-identity limit (StreamCounter) is far below it. */
const MAX_LISTEN_STREAMS = 10_000;
/** A handler with nothing open is dropped after this long; the next request makes a new one. */
const IDLE_MS = 10 * 60_000;

interface Entry {
  handler: McpHttpHandler;
  parsed: NodeServe;
  node: ReturnType<typeof toNodeHandler>;
  /** Responses in flight (calls and listen streams). */
  open: number;
  lastUsed: number;
}

export interface ModernHandlersOptions {
  dispatcher: Dispatcher;
  log: Logger;
  clock: Clock;
  maxBodyBytes: number;
}

/**
 * The SDK's 2026-07-28 handler, one per identity. Its notification bus reaches every
 * `subscriptions/listen` stream of the handler, and nothing in the SDK's listen router scopes a
 * notification to a caller: with one handler for all, user B's stream heard that user A's events
 * resource (one URI for everyone, each user's own content) had changed. One handler per identity
 * makes a notification reach only the identity it concerns.
 */
export class ModernHandlers {
  private readonly byIdentity = new Map<string, Entry>();

  constructor(private readonly opts: ModernHandlersOptions) {}

  /** The handler for this identity's request; counts `res` as open until it closes. */
  serve(identity: Identity, res: Response): Entry {
    const key = identityKey(identity);
    let entry = this.byIdentity.get(key);
    if (!entry) {
      entry = this.create();
      this.byIdentity.set(key, entry);
    }
    const e = entry;
    e.open++;
    e.lastUsed = this.opts.clock.now();
    res.once('close', () => {
      e.open--;
      e.lastUsed = this.opts.clock.now();
    });
    return e;
  }

  /** Tells listeners of a list change: only the named identities' when the change names them. */
  listChanged(kind: ChangeKind, identities?: readonly Identity[]): void {
    for (const h of this.handlersOf(identities)) {
      if (kind === 'tools') h.notify.toolsChanged();
      else if (kind === 'prompts') h.notify.promptsChanged();
      else h.notify.resourcesChanged();
    }
  }

  resourceUpdated(uri: string, identities?: readonly Identity[]): void {
    for (const h of this.handlersOf(identities)) h.notify.resourceUpdated(uri);
  }

  /** Drops the handlers of identities with nothing open for a while. */
  sweep(): void {
    const now = this.opts.clock.now();
    for (const [key, e] of this.byIdentity) {
      if (e.open > 0 || now - e.lastUsed < IDLE_MS) continue;
      this.byIdentity.delete(key);
      void e.handler.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.byIdentity.values()];
    this.byIdentity.clear();
    await Promise.all(all.map((e) => e.handler.close().catch(() => {})));
  }

  private *handlersOf(identities: readonly Identity[] | undefined): Iterable<McpHttpHandler> {
    if (!identities) {
      for (const e of this.byIdentity.values()) yield e.handler;
      return;
    }
    for (const key of new Set(identities.map(identityKey))) {
      const e = this.byIdentity.get(key);
      if (e) yield e.handler;
    }
  }

  private create(): Entry {
    const { dispatcher, log, maxBodyBytes } = this.opts;
    const handler = createMcpHandler((ctx) => createHubServer(dispatcher, identityFromAuthInfo(ctx.authInfo), 'modern'), {
      legacy: 'reject',
      maxRequestBodySize: maxBodyBytes,
      maxSubscriptions: MAX_LISTEN_STREAMS,
      onerror: (err) => log.debug({ err: err.message }, 'mcp request rejected'),
    });
    return {
      handler,
      node: toNodeHandler(handler, { maxRequestBodySize: maxBodyBytes }),
      parsed: modernNodeHandler(handler, (err) => log.debug({ err: err.message }, 'mcp request failed in the handler')),
      open: 0,
      lastUsed: this.opts.clock.now(),
    };
  }
}

/** The identity the auth middleware resolved, carried on AuthInfo.extra. */
export function identityFromAuthInfo(auth: { extra?: Record<string, unknown> } | undefined): Identity {
  const id = auth?.extra?.['identity'] as Identity | undefined;
  if (!id) throw new Error('request reached the MCP face without an identity');
  return id;
}
