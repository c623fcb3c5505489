import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { BoundedEventStore } from './event-store.js';
import { MissedNotices } from './missed-notices.js';
import { webNodeHandler, type NodeServe } from './modern-node.js';

export interface SessionTransport {
  transport: WebStandardStreamableHTTPServerTransport;
  /** The transport served from Node with the body express parsed. */
  serve: NodeServe;
}

export interface SessionTransportOptions {
  /** The session's id, once its initialize is answered. */
  onsessioninitialized: (id: string) => void;
  /** The URIs the session subscribes to: an update it missed is told only while it still does. */
  subscriptions: ReadonlySet<string>;
  log: Logger;
}

/**
 * A 2025 session's transport: resumable streams (a bounded event store), and list changes and
 * resource updates told before its standalone GET stream opened told once it does
 * (src/mcp/missed-notices.ts). Only GETs pass through more than the transport.
 */
export function sessionTransport(o: SessionTransportOptions): SessionTransport {
  const notices: MissedNotices = new MissedNotices(new BoundedEventStore(), {
    resend: (message) => transport.send(message),
    wanted: (message) => {
      if (!('method' in message) || message.method !== 'notifications/resources/updated') return true;
      const uri = message.params?.['uri'];
      return typeof uri === 'string' && o.subscriptions.has(uri);
    },
  });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    eventStore: notices,
    // Sent as the SSE `retry` field: when the hub closes a stream mid-call (SEP-1699 polling),
    // the client knows how soon to come back with Last-Event-ID.
    retryInterval: 1_000,
    onsessioninitialized: o.onsessioninitialized,
  });
  const serve = webNodeHandler(
    (request, extra) =>
      request.method === 'GET' ? notices.serveGet(request, () => transport.handleRequest(request, extra)) : transport.handleRequest(request, extra),
    (err) => o.log.debug({ err: err.message }, 'mcp session request failed in the transport'),
  );
  return { transport, serve };
}
