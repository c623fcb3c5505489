import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { describeError } from '../../errors.js';
import { SessionEnded } from './session-ended.js';

/** How often the hub pings an HTTP server whose session it holds for lists and list changes. */
export const KEEPALIVE_MS = 30_000;
const PING_TIMEOUT_MS = 10_000;

/**
 * Pings the server every `intervalMs` on a connection that otherwise only listens: the hub answers
 * tools/list from its copy, so without this a server that restarted (and forgot the session) or
 * went away would never be heard from again, and the tools it adds or drops never shown. A 404
 * reaches the source through the transport (session-ended.ts); an unreachable server is `onLost`.
 * A server that answers at all, even with an error, or is only slow, is alive. Returns the stop.
 */
export function keepAlive(client: Client, onLost: (detail: string) => void, intervalMs = KEEPALIVE_MS): () => void {
  const timer = setInterval(() => {
    client.ping({ timeout: PING_TIMEOUT_MS }).catch((err: unknown) => {
      if (err instanceof SessionEnded || err instanceof ProtocolError) return;
      if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) return;
      onLost(`unreachable: ${describeError(err)}`);
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
