import type { Response } from 'express';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.js';
import type { Dispatcher } from './dispatch.js';

/** Whether a JSON-RPC body is a 2026-07-28 `subscriptions/listen` request. */
export function isListen(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'subscriptions/listen';
}

/** The resource URIs a listen request's filter names (`params.notifications.resourceSubscriptions`). */
export function listenedUris(body: unknown): string[] {
  const params = (body as { params?: { notifications?: { resourceSubscriptions?: unknown } } }).params;
  const uris = params?.notifications?.resourceSubscriptions;
  return Array.isArray(uris) ? [...new Set(uris.filter((u): u is string => typeof u === 'string'))] : [];
}

/**
 * Subscribes the identity to each resource a listen stream names, for as long as the stream is
 * open, as a 2025 session's resources/subscribe does. The SDK answers the listen and routes the
 * updates to its stream; without this, a downstream server that sends updates only for what was
 * subscribed (server-everything) never heard of a 2026-07-28 caller's interest, and its stream
 * stayed silent. The sources count watchers, so another stream or session of the identity on the
 * same URI keeps its subscription when this one closes. A URI no source serves is left to the
 * filter (the acknowledgement still names it).
 */
export function watchWhileOpen(dispatcher: Dispatcher, identity: Identity, body: unknown, res: Response, log: Logger): void {
  watchUntil(dispatcher, identity, listenedUris(body), (end) => res.once('close', end), log);
}

/**
 * The same for a stream whose end is told by `onEnd` (over stdio: the client's cancel of the
 * listen request, or the connection's end). Returns the URIs watched.
 */
export function watchUntil(
  dispatcher: Dispatcher,
  identity: Identity,
  uris: readonly string[],
  onEnd: (end: () => void) => void,
  log: Logger,
): readonly string[] {
  if (uris.length === 0) return uris;
  const held: string[] = [];
  let closed = false;
  const drop = (uri: string) => void dispatcher.subscribe(uri, identity, false).catch(() => {});
  onEnd(() => {
    closed = true;
    for (const uri of held.splice(0)) drop(uri);
  });
  for (const uri of uris)
    dispatcher.subscribe(uri, identity, true).then(
      () => (closed ? drop(uri) : void held.push(uri)),
      (err: unknown) => log.debug({ uri, err: err instanceof Error ? err.message : String(err) }, 'a listened resource is served by no source'),
    );
  return uris;
}
