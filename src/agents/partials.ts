import type { AgentPartial } from './adapter.js';

export interface MergedPartials {
  /** Takes a partial: text waits to join the text after it; anything else sends the waiting text, then itself. */
  push: (p: AgentPartial) => void;
  /** Sends the waiting text: the read that brought it is done (sse.ts `untilAnswer`'s batch end). */
  flush: () => void;
}

/**
 * An adapter's text partials merged per read of its stream. An agent that streams its tokens in a
 * burst delivers dozens in one read, and each partial passes the fallback chain, the secret scrubber
 * and the progress queue (progress.ts), which merges them again before sending: one partial per
 * read carries the same text for a fraction of the work. Order is kept: a tool call or a thought
 * goes after the text that came before it.
 */
export function mergedPartials(onPartial: ((p: AgentPartial) => void) | undefined): MergedPartials {
  let text = '';
  const flush = () => {
    if (text === '') return;
    const p: AgentPartial = { kind: 'text', text };
    text = '';
    onPartial?.(p);
  };
  return {
    push: (p) => {
      if (onPartial === undefined) return;
      if (p.kind === 'text') {
        text += p.text;
        return;
      }
      flush();
      onPartial(p);
    },
    flush,
  };
}
