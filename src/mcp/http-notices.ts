import type { Server } from '@modelcontextprotocol/server';
import { identityKey, type Identity } from '../identity/identity.js';
import type { FaceReplicas } from '../replicas/hub-events.js';
import type { Catalog } from './catalog.js';
import type { ModernHandlers } from './modern-handlers.js';
import type { SourceChange } from './source.js';

/** What of a 2025 session the notices need: whose it is, its server, the URIs it subscribed to. */
export interface NoticedSession {
  readonly identity: Identity;
  readonly server: Server;
  readonly subscriptions: ReadonlySet<string>;
}

export interface HttpNoticesOptions {
  catalog: Catalog;
  /** The 2025 sessions this replica holds, as they are now. */
  sessions: () => Iterable<NoticedSession>;
  /** The 2026 listen streams. */
  modern: Pick<ModernHandlers, 'listChanged' | 'resourceUpdated'>;
  replicas?: FaceReplicas;
}

/**
 * The list changes and resource updates the HTTP face tells its clients: those the catalog hears
 * here, and with replicas those the others share. What another replica told is delivered here
 * only, never shared again, so nothing bounces between replicas. Returns the unsubscribe.
 */
export function followNotices(o: HttpNoticesOptions): () => void {
  const deliverList = (change: SourceChange): void => {
    const keys = change.identities ? new Set(change.identities.map(identityKey)) : undefined;
    for (const s of o.sessions()) {
      if (keys && !keys.has(identityKey(s.identity))) continue;
      const send =
        change.kind === 'tools'
          ? s.server.sendToolListChanged()
          : change.kind === 'prompts'
            ? s.server.sendPromptListChanged()
            : s.server.sendResourceListChanged();
      send.catch(() => {});
    }
    o.modern.listChanged(change.kind, change.identities);
  };

  const deliverUpdate = (uri: string, identities: readonly Identity[] | undefined): void => {
    const keys = identities ? new Set(identities.map(identityKey)) : undefined;
    for (const s of o.sessions()) {
      if (keys && !keys.has(identityKey(s.identity))) continue;
      if (s.subscriptions.has(uri)) s.server.sendResourceUpdated({ uri }).catch(() => {});
    }
    o.modern.resourceUpdated(uri, identities);
  };

  const off = [
    // A per-user change is shared: another replica holds the same user's sessions and streams.
    o.catalog.onChange((change) => {
      deliverList(change);
      if (change.identities) o.replicas?.share({ type: 'list_changed', kind: change.kind, identities: change.identities });
      // Not the change itself: each replica's clients list what its own connections read (reread).
      if (change.readOnSession !== undefined) o.replicas?.share({ type: 'server_list_changed', server: change.readOnSession, kind: change.kind });
    }),
    o.catalog.onResourceUpdated((uri, identities, eventId) => {
      deliverUpdate(uri, identities);
      // An inbox event (it names one) is handled by one replica only, so the others are told of it.
      // A downstream server's update is not: a client subscribes through its own replica's connection
      // to the server, which hears the update itself; shared too, each client heard it once per replica.
      if (identities && eventId !== undefined) o.replicas?.share({ type: 'resource_updated', uri, identities, eventId });
    }),
  ];
  if (o.replicas)
    off.push(
      o.replicas.listen((e) => {
        // What this replica reads of it is told here as a change of its own, without readOnSession: never shared again.
        if (e.type === 'server_list_changed') void o.catalog.source(e.server)?.reread?.(e.kind);
        else if (e.type === 'list_changed') deliverList({ kind: e.kind, identities: e.identities });
        else deliverUpdate(e.uri, e.identities);
      }),
    );
  return () => {
    for (const f of off) f();
  };
}
