/**
 * The life of something long-lived (a transport, a session) that short-lived work follows: each
 * piece of work gets a signal of its own, aborted when the life ends, and leaves when it is done.
 *
 * Not an AbortSignal that every piece of work listens on: Node's EventTarget keeps its listeners
 * in a linked list whose removed nodes still point at their neighbours. Once one such node was old
 * enough for V8 to promote, the listeners added after it (and all their closures hold: requests,
 * answers, buffers) survived each young-generation collection too and were promoted in turn, left
 * for full collections: with calls overlapping, most of each call's objects were.
 */
export class Lifetime {
  private readonly members = new Set<AbortController>();
  private over = false;

  get ended(): boolean {
    return this.over;
  }

  /** A signal for one piece of work (aborted at once if the life is over), and its leave. */
  join(): { signal: AbortSignal; leave: () => void } {
    const member = new AbortController();
    if (this.over) member.abort();
    else this.members.add(member);
    return { signal: member.signal, leave: () => this.members.delete(member) };
  }

  end(): void {
    this.over = true;
    const members = [...this.members];
    this.members.clear();
    for (const m of members) m.abort();
  }
}
