/** How long closing a connection waits for the server to answer the DELETE of its session. */
export const DELETE_WAIT_MS = 1_000;

/**
 * Ends a connection's 2025-era session on the server with an HTTP DELETE: Streamable HTTP
 * (2025-11-25, Session Management) has a client that no longer needs a session send one, and
 * servers built the SDK's way keep each session they opened (and its server object) until then —
 * one per identity per hub start or idle period otherwise. The SDK transport sends it as it sends
 * the session's other requests (the configured headers, the session id, redirects followed within
 * the origin only) and takes a 405 (the server does not allow it) as done. Best effort: any other
 * failure is ignored, and the wait is bounded so that a dead or slow server holds a close (the
 * hub's shutdown closes its connections in parallel) `waitMs` at most; the transport's close then
 * aborts the DELETE with its other requests. Nothing is sent without a session (2026-07-28).
 */
export async function deleteSession(transport: { terminateSession(): Promise<void> }, waitMs = DELETE_WAIT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  try {
    await Promise.race([transport.terminateSession().catch(() => {}), waited]);
  } finally {
    clearTimeout(timer);
  }
}
