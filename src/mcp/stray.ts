import type { LoggingMessageNotification, Server, ServerNotification } from '@modelcontextprotocol/server';
import type { Identity } from '../identity/identity.js';
import type { StrayListener, StrayNotification } from './source.js';
import { logMessageOf } from './server.js';

/**
 * Sends a downstream's notification that belongs to no call (ToolSource.onStray) on a 2025
 * connection's own stream, as the SDK would send its own: a log message only at or above the
 * level the client set on this session (all of them while it set none), anything else only where
 * the client declared what it needs (a URL elicitation's completion to a client that declared URL
 * elicitation). Never throws: a connection that cannot take it just does not hear it.
 */
export function sendStray(server: Server, sessionId: string | undefined, n: StrayNotification): void {
  const sent =
    n.method === 'notifications/message' && logMessageOf(n.params)
      ? server.sendLoggingMessage(n.params as LoggingMessageNotification['params'], sessionId)
      : server.notification({ method: n.method, ...(n.params ? { params: n.params } : {}) } as ServerNotification);
  void sent.catch(() => {});
}

/** A listener that sends each stray notification to every 2025 session of the identities it names (`sessionsOf` lists one identity's). */
export function strayTo(sessionsOf: (who: Identity) => Iterable<{ server: Server; id: string | undefined }> | undefined): StrayListener {
  return (n, identities) => {
    for (const who of identities) for (const s of sessionsOf(who) ?? []) sendStray(s.server, s.id, n);
  };
}
