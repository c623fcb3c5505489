import type { Transport } from '@modelcontextprotocol/client';

/**
 * The SDK transport's words when it stops reopening an SSE stream, its `maxRetries` (2 by default,
 * 1 s then 1.5 s apart) spent. Matched by text: the SDK says it only through `onerror`.
 */
const GAVE_UP = /^Maximum reconnection attempts \(\d+\) exceeded\.$/;

/**
 * Tells `onGaveUp` when the SDK transport stops reopening a stream of an HTTP server, and passes
 * every error on as before. A server that restarts and takes longer than those retries to listen
 * again (a deploy, a cold container) left the hub's standalone stream closed for good: nothing
 * heard of its new session or tools until a call or the next keepalive, up to a minute later. The
 * hub checks on the server then instead; it finds it gone and reconnects once it is back.
 * Installed after `connect`, which sets the client's own `onerror` on the transport.
 */
export function onStreamGivenUp(transport: Transport, onGaveUp: () => void): void {
  const inner = transport.onerror;
  transport.onerror = (error: Error) => {
    if (GAVE_UP.test(error.message)) onGaveUp();
    inner?.(error);
  };
}
