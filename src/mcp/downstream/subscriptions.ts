import type { Client } from '@modelcontextprotocol/client';
import type { CachedLists } from '../../store/list-cache.js';
import { isModernClient } from './modern.js';
import { templateMatches } from '../template-match.js';

/**
 * Whether a URI is one of this server's: listed, or matching one of its resource templates (RFC
 * 6570). A URI from a template is never listed, and subscribing to one was answered as done and
 * never forwarded, so its updates never came.
 */
export function claimsResource(listed: Pick<CachedLists, 'resources' | 'resourceTemplates'>, uri: string): boolean {
  if (listed.resources.some((r) => r.uri === uri)) return true;
  return listed.resourceTemplates.some((t) => templateMatches(t.uriTemplate, uri));
}

/**
 * The resource URIs the hub's callers watch on one downstream server. Several callers may watch
 * one URI, so the server hears only of the first subscribe and the last unsubscribe. A 2026-07-28
 * server has no resources/subscribe: its updates arrive on a subscriptions/listen stream whose
 * filter names the URIs, reopened whenever the set changes.
 */
export class ResourceWatch {
  private readonly watchers = new Map<string, number>();
  private listening: { close: () => Promise<void> } | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** How many URIs are watched. */
  get size(): number {
    return this.watchers.size;
  }

  /**
   * Without a client (the server is not connected now: restarting), the URI is only kept: `renew`
   * subscribes to it once the server is connected again.
   */
  async subscribe(client: Client | undefined, uri: string): Promise<void> {
    const count = this.watchers.get(uri) ?? 0;
    this.watchers.set(uri, count + 1);
    if (count > 0 || client === undefined) return;
    if (isModernClient(client)) await this.relisten(client);
    else await client.subscribeResource({ uri });
  }

  /** False when no caller watches the URI here. Without a client, the URI is only dropped (the next connection never hears of it). */
  async unsubscribe(client: Client | undefined, uri: string): Promise<boolean> {
    const count = this.watchers.get(uri);
    if (count === undefined) return false;
    if (count > 1) {
      this.watchers.set(uri, count - 1);
      return true;
    }
    this.watchers.delete(uri);
    if (client === undefined) return true;
    if (isModernClient(client)) await this.relisten(client);
    else await client.unsubscribeResource({ uri });
    return true;
  }

  /** A new connection: subscriptions made through the last one are the server's to forget. */
  async renew(client: Client): Promise<void> {
    this.listening = undefined;
    if (this.watchers.size === 0) return;
    if (isModernClient(client)) await this.relisten(client);
    else await Promise.all([...this.watchers.keys()].map((uri) => client.subscribeResource({ uri })));
  }

  /** The new stream opens before the old one closes, so no update falls between them. */
  private async relisten(client: Client): Promise<void> {
    const previous = this.listening;
    const uris = [...this.watchers.keys()];
    this.listening = uris.length ? await client.listen({ resourceSubscriptions: uris }, { timeout: this.timeoutMs }) : undefined;
    await previous?.close().catch(() => {});
  }
}

/** A connection's own subscribe and unsubscribe of a URI at its server. */
interface Watchable {
  subscribeResource(uri: string): Promise<boolean>;
  unsubscribeResource(uri: string): Promise<boolean>;
}

/**
 * Who holds each URI watched through one connection, by identity (identityKey): the sessions and
 * listen streams of one identity each hold a URI once (the faces see to that), so an identity's
 * count is its own holders'. The connection subscribes on the first hold and unsubscribes when the
 * last one lets go; a release by an identity that holds nothing here is refused (false) and
 * touches nobody's hold, where a bare count let one user's unsubscribe end another's updates.
 */
export class ResourceHolds {
  private readonly uris = new Map<string, { holders: Map<string, number>; made: Promise<boolean> }>();

  constructor(private readonly link: Watchable) {}

  /** Resolves as the connection's subscribe did: false when the URI is not its server's. */
  async take(uri: string, holder: string): Promise<boolean> {
    let entry = this.uris.get(uri);
    if (!entry) {
      const made = this.link.subscribeResource(uri);
      const fresh = { holders: new Map<string, number>(), made };
      const forget = () => this.uris.get(uri) === fresh && this.uris.delete(uri);
      made.then((ok) => ok || forget(), forget);
      this.uris.set(uri, fresh);
      entry = fresh;
    }
    entry.holders.set(holder, (entry.holders.get(holder) ?? 0) + 1);
    return entry.made;
  }

  /** False when the holder holds nothing of the URI here. */
  async release(uri: string, holder: string): Promise<boolean> {
    const entry = this.uris.get(uri);
    const count = entry?.holders.get(holder);
    if (!entry || count === undefined) return false;
    if (count > 1) entry.holders.set(holder, count - 1);
    else entry.holders.delete(holder);
    if (entry.holders.size > 0) return true;
    this.uris.delete(uri);
    if (await entry.made.catch(() => false)) await this.link.unsubscribeResource(uri);
    return true;
  }

  /**
   * Hands every hold to another connection's holds, which subscribes to each URI there, and lets
   * go of them here (this connection hears of them no more). Resolves with whether each URI was
   * taken; a release the server refuses (its session is gone) is nothing to report.
   */
  async moveTo(target: ResourceHolds): Promise<Array<[string, boolean]>> {
    const held = [...this.uris].flatMap(([uri, e]) => [...e.holders].flatMap(([holder, count]) => Array.from({ length: count }, () => [uri, holder] as const)));
    const taken = held.map(([uri, holder]) => target.take(uri, holder).then((ok): [string, boolean] => [uri, ok]));
    for (const [uri, holder] of held) void this.release(uri, holder).catch(() => {});
    const results = await Promise.all(taken.map((t, i) => t.catch((): [string, boolean] => [held[i]![0], false])));
    return [...new Map(results)];
  }
}

const holdsByLink = new WeakMap<Watchable, ResourceHolds>();

/** The holds of one connection, made on first use. */
export function holdsOf(link: Watchable): ResourceHolds {
  const known = holdsByLink.get(link);
  if (known) return known;
  const holds = new ResourceHolds(link);
  holdsByLink.set(link, holds);
  return holds;
}
