import type { CachedLists } from '../../store/list-cache.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { ChangeKind, SourceStatus } from '../source.js';
import type { ServedLists } from './served-lists.js';

/** What of a new connection a read needs: it lists everything as it starts. */
interface Connection {
  start(): Promise<void>;
  status(): SourceStatus;
  lists(): CachedLists;
  stop(): Promise<void>;
}

export interface FreshReadsOptions {
  /** A new session with the server (not started), which it builds from what it holds now. */
  open: () => Connection;
  /** Where what a read found of each kind asked goes: what clients are shown, and told of if it moved. */
  into: Pick<ServedLists, 'sessionRead'>;
  /** The server's name, for the log. */
  name: string;
  log: Logger;
}

/**
 * A downstream server's lists read again on a fresh connection when another replica's session
 * read a change this replica's connections did not hear (ToolSource.reread). One read at a time:
 * the kinds asked for meanwhile are read together by one more (a fresh connection lists every
 * kind), so a burst of announcements costs two connections, not one each.
 */
export class FreshReads {
  private running: Promise<void> | undefined;
  private readonly asked = new Set<ChangeKind>();

  constructor(private readonly o: FreshReadsOptions) {}

  /** Resolves once a read begun after this request has ended; never rejects (a failure is logged). */
  request(kind: ChangeKind): Promise<void> {
    this.asked.add(kind);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async read(): Promise<CachedLists> {
    const link = this.o.open();
    try {
      await link.start();
      const { state, detail } = link.status();
      if (state !== 'ready') throw new Error(detail ?? `the server's session is ${state}`);
      return link.lists();
    } finally {
      await link.stop();
    }
  }

  private async drain(): Promise<void> {
    while (this.asked.size > 0) {
      const kinds = new Set(this.asked);
      this.asked.clear();
      try {
        const lists = await this.read();
        for (const kind of kinds) this.o.into.sessionRead({ kind }, lists);
      } catch (err) {
        this.o.log.warn({ source: this.o.name, err: describeError(err) }, "could not read again a list another replica's session found changed");
      }
    }
  }
}
