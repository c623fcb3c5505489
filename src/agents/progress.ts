import type { ProgressUpdate } from '../mcp/source.js';
import type { AgentPartial } from './adapter.js';
import { redact, streamScrubber } from './scrub.js';

export interface ProgressReporter {
  push: (agent: string, p: AgentPartial) => void;
  /**
   * The chain moves on to `agent`. When the agent before it had streamed text, which is now
   * discarded, that is said at once: a fallback may answer with no progress of its own (a sync
   * one), and the text already shown must not read as the start of its answer.
   */
  trying: (agent: string) => void;
  /** Resolves once everything pushed so far has been sent (the result goes after it). */
  flushed: () => Promise<void>;
}

/**
 * The least time between two notifications of one call. An agent that delivers many tokens in a
 * burst (one read each, as they come off the socket) would otherwise cost a notification, a JSON
 * encoding and a socket write per read: in `bench:agents`' stream mode that was ~13 writes per
 * call. A person reading a stream cannot tell 10 ms apart; tokens further apart go one by one.
 */
export const PROGRESS_INTERVAL_MS = 10;

/**
 * An agent's partial output as MCP progress notifications: in order, one at a time, all before
 * the result. Text that arrives while a notification is being sent, or within `intervalMs` of the
 * last one, joins the next, so a stream that delivers many tokens at once costs a few
 * notifications, not one per token (each is a JSON-RPC message the server validates, stores for
 * resumption and writes); each message is still what arrived since the previous one. A thought
 * or a tool call is never merged. `flushed` sends what waits at once: the result goes next.
 */
/** Marks where a fallback's partials begin. */
interface Switch {
  kind: 'switch';
  from: string;
}

export function progressReporter(
  report: (p: ProgressUpdate) => Promise<void>,
  secrets: readonly string[],
  intervalMs = PROGRESS_INTERVAL_MS,
): ProgressReporter {
  const queue: Array<{ agent: string; p: AgentPartial | Switch }> = [];
  let n = 0;
  let pumping: Promise<void> | undefined;
  let lastSent = Number.NEGATIVE_INFINITY;
  /**
   * Set once the result waits: the pacing wait in progress ends, and no other starts. A plain flag
   * and a resolver, not an AbortController: aborting one builds a DOMException with a stack on
   * every streamed call (~1% of the hub's CPU in `bench:agents`).
   */
  let hurried = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  // A thought is marked as one, so a client can tell the agent's reasoning from its answer. Text
  // was scrubbed as it came (below); a thought or a tool call arrives whole.
  const messageOf = (agent: string, p: AgentPartial | Switch): string =>
    p.kind === 'switch'
      ? `agent ${p.from} stopped without an answer; agent ${agent} answers instead, from the start`
      : p.kind === 'tool_call'
        ? `agent ${agent} is calling the tool ${redact(p.tool, secrets)}`
        : p.kind === 'thought'
          ? `agent ${agent} thinks: ${redact(p.text, secrets)}`
          : p.text;
  // A secret split across tokens is caught: the text that could begin one waits for the next token.
  const scrubber = streamScrubber(secrets);
  let textOf: string | undefined;
  /** The agent whose partials came last: another one's are a fallback's, after that one failed. */
  let streaming: string | undefined;
  const enqueue = (agent: string, p: AgentPartial | Switch) => {
    const last = queue.at(-1);
    if (p.kind === 'text' && last?.p.kind === 'text' && last.agent === agent) last.p = { kind: 'text', text: last.p.text + p.text };
    else queue.push({ agent, p });
    pumping ??= pump();
  };
  /** Sends what the scrubber held back: the text ended, or another agent or kind of partial comes. */
  const release = () => {
    const rest = scrubber.end();
    if (textOf !== undefined && rest !== '') enqueue(textOf, { kind: 'text', text: rest });
    textOf = undefined;
  };
  const pump = async () => {
    while (queue.length > 0) {
      const wait = lastSent + intervalMs - performance.now();
      if (wait > 0 && !hurried) await pause(wait);
      const next = queue.shift()!;
      lastSent = performance.now();
      await report({ progress: ++n, message: messageOf(next.agent, next.p) }).catch(() => {});
    }
    pumping = undefined;
  };
  return {
    push: (agent, p) => {
      if (p.kind !== 'text' || textOf !== agent) release();
      // A fallback starts its answer anew: said, so a client does not read its text as going on from the failed agent's.
      if (streaming !== undefined && streaming !== agent) enqueue(agent, { kind: 'switch', from: streaming });
      streaming = agent;
      if (p.kind !== 'text') return enqueue(agent, p);
      textOf = agent;
      const safe = scrubber.push(p.text);
      if (safe !== '') enqueue(agent, { kind: 'text', text: safe });
    },
    trying: (agent) => {
      if (streaming === undefined || streaming === agent) return;
      release();
      enqueue(agent, { kind: 'switch', from: streaming });
      streaming = agent;
    },
    flushed: async () => {
      release();
      hurried = true;
      wake?.();
      while (pumping) await pumping;
    },
  };
}
