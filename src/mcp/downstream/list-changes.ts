import type { Client } from '@modelcontextprotocol/client';
import type { ChangeKind } from '../source.js';

/** The lists a server may have, each with its own change notification. */
export const KINDS = ['tools', 'resources', 'prompts'] as const satisfies readonly ChangeKind[];
const METHOD = {
  tools: 'notifications/tools/list_changed',
  resources: 'notifications/resources/list_changed',
  prompts: 'notifications/prompts/list_changed',
} as const satisfies Record<ChangeKind, string>;

/**
 * Keeps the hub's copy of a downstream's lists current. Where the server declares `listChanged`
 * the SDK client follows it (on 2026-07-28 by opening `subscriptions/listen` for it); `install`
 * then listens for the lists the server did not declare, since the SDK installs no handler for
 * those and drops their notifications — yet servers send them: fastmcp declares `tools: {}` and
 * announces each tool added or removed at runtime. A notification that arrives says the list
 * changed, whatever was declared. Refreshes of one list never overlap: notifications arriving
 * during one make a single further refresh once it ends.
 */
export class ListChanges {
  private readonly running = new Map<ChangeKind, Promise<void>>();
  private readonly again = new Set<ChangeKind>();

  constructor(private readonly refresh: (kind: ChangeKind) => Promise<void>) {}

  /**
   * The client's `listChanged` option: the hub refreshes its copy itself (no auto-refresh), at once
   * (the SDK waits 300 ms by default): a server that adds a tool and then answers the call that
   * added it has its new tool listed, and callable, by the caller's next request (see `settled`).
   */
  options(): Record<ChangeKind, { autoRefresh: false; debounceMs: 0; onChanged: () => void }> {
    const entry = (kind: ChangeKind) => ({ autoRefresh: false as const, debounceMs: 0 as const, onChanged: () => this.changed(kind) });
    return { tools: entry('tools'), resources: entry('resources'), prompts: entry('prompts') };
  }

  /** After the handshake: handlers for the lists the server did not declare as changing. */
  install(client: Client): void {
    const caps = client.getServerCapabilities();
    for (const kind of KINDS) {
      if (caps?.[kind]?.listChanged !== true) client.setNotificationHandler(METHOD[kind], () => this.changed(kind));
    }
  }

  /**
   * Resolves once no refresh is running or due (undefined when none is): a list or a call by name
   * answered meanwhile would see the copy from before the change the server announced.
   */
  settled(): Promise<void> | undefined {
    if (this.running.size === 0) return undefined;
    return Promise.all(this.running.values()).then(() => this.settled());
  }

  private changed(kind: ChangeKind): void {
    if (this.running.has(kind)) {
      this.again.add(kind);
      return;
    }
    // refresh reports its own failures; a rejection here would be unhandled.
    const run = this.refresh(kind)
      .catch(() => {})
      .finally(() => {
        this.running.delete(kind);
        if (this.again.delete(kind)) this.changed(kind);
      });
    this.running.set(kind, run);
  }
}
