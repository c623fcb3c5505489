import type { Response } from 'express';
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.js';
import { within } from '../within.js';
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
 * How long a listen's acknowledgement waits for its subscriptions to be made at their servers; a
 * URI whose subscription is still being made then is acknowledged (and held if it succeeds).
 */
export const LISTEN_SUBSCRIBE_WAIT_MS = 5_000;

/**
 * Narrows the listen request's filter to `served`, before the SDK answers it: the SDK
 * acknowledges every URI asked for, and a URI no source serves (a typo, a resource no server
 * lists) would read as honoured while nothing would ever be heard on it. 2025 sessions get the
 * error resources/read gives for such a URI; a listen leaves it out of `honoredFilter`.
 */
export function narrowListen(body: unknown, served: readonly string[]): void {
  const notifications = (body as { params?: { notifications?: { resourceSubscriptions?: unknown } } }).params?.notifications;
  if (notifications && Array.isArray(notifications.resourceSubscriptions)) notifications.resourceSubscriptions = [...served];
}

/**
 * Subscribes the identity to each resource a listen stream names, for as long as the stream is
 * open, as a 2025 session's resources/subscribe does, and narrows the request to the URIs some
 * source serves. The SDK answers the listen and routes the updates to its stream; without this, a
 * downstream server that sends updates only for what was subscribed (server-everything) never
 * heard of a 2026-07-28 caller's interest, and its stream stayed silent. The sources count
 * watchers, so another stream or session of the identity on the same URI keeps its subscription
 * when this one closes.
 */
export async function watchWhileOpen(dispatcher: Dispatcher, identity: Identity, body: unknown, res: Response, log: Logger): Promise<void> {
  const asked = listenedUris(body);
  if (asked.length === 0) return;
  narrowListen(body, await watchUntil(dispatcher, identity, asked, (end) => res.once('close', end), log));
}

/**
 * The same for a stream whose end is told by `onEnd` (over stdio: the client's cancel of the
 * listen request, or the connection's end). Resolves with the URIs served: each subscription made,
 * or still being made after LISTEN_SUBSCRIBE_WAIT_MS.
 */
export async function watchUntil(
  dispatcher: Dispatcher,
  identity: Identity,
  uris: readonly string[],
  onEnd: (end: () => void) => void,
  log: Logger,
): Promise<readonly string[]> {
  if (uris.length === 0) return uris;
  const held: string[] = [];
  let closed = false;
  const drop = (uri: string) => void dispatcher.subscribe(uri, identity, false).catch(() => {});
  onEnd(() => {
    closed = true;
    for (const uri of held.splice(0)) drop(uri);
  });
  const outcomes = uris.map((uri) =>
    dispatcher.subscribe(uri, identity, true).then(
      () => {
        if (closed) drop(uri);
        else held.push(uri);
        return true;
      },
      (err: unknown) => {
        log.debug({ uri, err: err instanceof Error ? err.message : String(err) }, 'a listened resource is served by no source');
        return false;
      },
    ),
  );
  const served = await Promise.all(outcomes.map((o) => within(o, LISTEN_SUBSCRIBE_WAIT_MS, true)));
  return uris.filter((_, i) => served[i]);
}
