import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { describeError } from '../../errors.js';
import { identityKey, type Identity } from '../../identity/identity.js';
import type { DownstreamSource } from './source.js';
import { holdsOf } from './subscriptions.js';

/** `session`: where an identity's calls go; `legacy-session`: a 2025-era caller's own session with a 2026-capable server. */
export type LinkKind = 'session' | 'legacy-session';

/** A connection of one identity's own, made (not yet started) and wired to its server by the caller. */
export type OpenLink = (kind: LinkKind, identity: Identity) => { link: DownstreamSource; started: Promise<void> };

interface Entry {
  kind: LinkKind;
  identity: Identity;
  link: DownstreamSource;
  started: Promise<void>;
  lastUsed: number;
  renewing?: boolean;
}

export interface IdentityLinksOptions {
  name: string;
  clock: Clock;
  log: Logger;
  idleMs: number;
  open: OpenLink;
}

/**
 * The connections of one downstream server that are one identity's own (a session with a 2025-era
 * HTTP server, a process with `isolation: "user"`): opened on first use, closed once idle unless a
 * resource is watched through them, and opened anew where they hold subscriptions when the server
 * restarted (`renewWatching`).
 */
export class IdentityLinks {
  private readonly entries = new Map<string, Entry>();
  /** Connections a renewal replaced, closed once their calls in flight have ended. */
  private readonly retired = new Set<DownstreamSource>();

  constructor(private readonly o: IdentityLinksOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** The identity's connection of that kind, if one is open. */
  get(kind: LinkKind, identity: Identity): DownstreamSource | undefined {
    return this.entries.get(keyOf(kind, identity))?.link;
  }

  all(): DownstreamSource[] {
    return [...this.entries.values()].map((e) => e.link);
  }

  /** The identity's connection of that kind, opened (and started) on first use. */
  async use(kind: LinkKind, identity: Identity): Promise<DownstreamSource> {
    const key = keyOf(kind, identity);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { kind, identity, ...this.o.open(kind, identity), lastUsed: this.o.clock.now() };
      this.entries.set(key, entry);
    }
    entry.lastUsed = this.o.clock.now();
    await entry.started;
    return entry.link;
  }

  /** Closes the identity's connection of that kind (one that cannot serve as one). */
  drop(kind: LinkKind, identity: Identity): void {
    const key = keyOf(kind, identity);
    const entry = this.entries.get(key);
    this.entries.delete(key);
    void entry?.link.stop();
  }

  /**
   * The server restarted (its main connection lost and made again): it forgot the sessions it
   * held, and what was subscribed on them. A session meets that on its next request and opens a
   * new one (session-ended.ts), but one that only watches a resource sends none, and would hear
   * nothing more. So each connection holding subscriptions is opened anew now and its holds move
   * to the new one, which subscribes to them there; the old one is closed once its calls in flight
   * have ended (a server that was only slow to answer may still finish them). A new one that cannot
   * connect (the server went again) is dropped: the old stays, for the next restart to renew.
   */
  async renewWatching(): Promise<void> {
    await Promise.all(
      [...this.entries]
        .filter(([, e]) => e.link.watching && !e.renewing)
        .map(([key, e]) =>
          this.renew(key, e).catch((err: unknown) =>
            this.o.log.warn({ source: this.o.name, err: describeError(err) }, 'could not renew an identity’s session'),
          ),
        ),
    );
  }

  private async renew(key: string, old: Entry): Promise<void> {
    old.renewing = true;
    const { link, started } = this.o.open(old.kind, old.identity);
    await started.finally(() => (old.renewing = false));
    if (this.entries.get(key) !== old || link.status().state !== 'ready') return void link.stop();
    this.entries.set(key, { ...old, link, started, renewing: false });
    const moved = holdsOf(old.link).moveTo(holdsOf(link));
    if (old.link.busy === 0) void old.link.stop();
    else this.retired.add(old.link);
    for (const [uri, ok] of await moved) {
      if (!ok) this.o.log.warn({ source: this.o.name, uri }, 'the restarted server did not take back a resource subscription');
    }
  }

  /** Closes the connections that have been idle for a while. */
  sweep(): void {
    const now = this.o.clock.now();
    for (const link of this.retired) {
      if (link.busy > 0) continue;
      this.retired.delete(link);
      void link.stop();
    }
    for (const [key, e] of this.entries) {
      // Idle is counted from its last call's end, not its start: a process that served a call
      // longer than idleMs (and keeps state, a browser's session) is not ended as it answers.
      // Seen busy here, it is idle from no earlier than now.
      if (e.link.busy > 0) e.lastUsed = now;
      // A connection a caller watches a resource through stays: its updates come over it.
      else if (!e.link.watching && now - e.lastUsed >= this.o.idleMs) {
        this.entries.delete(key);
        void e.link.stop();
      }
    }
  }

  async stop(): Promise<void> {
    const links = [...this.all(), ...this.retired];
    this.entries.clear();
    this.retired.clear();
    await Promise.allSettled(links.map((l) => l.stop()));
  }
}

function keyOf(kind: LinkKind, identity: Identity): string {
  return `${kind}:${identityKey(identity)}`;
}
