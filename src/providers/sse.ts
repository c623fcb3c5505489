import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { HubError } from '../errors.js';
import { tooLarge } from './body-limit.js';
import { takeNodeBody } from './streamed-response.js';

export type { EventSourceMessage };

export interface SseOptions {
  label: string;
  /** The stream fails when no byte arrives for this long (comments and keep-alives count). */
  idleMs: number;
  /** Characters one event may take; a line that never ends is cut here instead of filling memory. */
  maxEventChars?: number;
}

/**
 * The events of a `text/event-stream` response (WHATWG HTML §9.2), parsed by eventsource-parser,
 * in batches: the events each chunk of the body completes, together. An agent that streams its
 * tokens in a burst delivers dozens in one chunk, and an async generator's step per event cost a
 * streamed call more than reading them. A stream has no overall deadline — an agent may work for
 * minutes — so silence is what ends it: after `idleMs` without a byte it fails with
 * provider_timeout and the connection is closed.
 */
export async function* sseEventBatches(res: Response, o: SseOptions): AsyncGenerator<EventSourceMessage[]> {
  const reader = chunksOf(res);
  if (reader === undefined) return;
  const max = o.maxEventChars ?? 1024 * 1024;
  const queue: EventSourceMessage[] = [];
  let pending = 0;
  const parser = createParser({
    onEvent: (e) => {
      queue.push(e);
      pending = 0;
    },
  });
  // Decoded here rather than through a TextDecoderStream: piping builds a transform stream and two
  // queues per response, which cost a streamed agent call more than its parsing. The hub's own
  // fetch hands over its Node stream, read without a web stream in between (streamed-response.ts).
  const decoder = new TextDecoder();
  let timer: NodeJS.Timeout | undefined;
  let fail: (err: unknown) => void = () => {};
  const idle = new Promise<never>((_, reject) => (fail = reject));
  idle.catch(() => {});
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => fail(new HubError('provider_timeout', `${o.label} sent nothing for ${o.idleMs} ms; the stream was closed`, { details: { idleMs: o.idleMs } })),
      o.idleMs,
    );
  };
  arm();
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), idle]);
      if (chunk.done) break;
      arm();
      const text = decoder.decode(chunk.value, { stream: true });
      pending += text.length;
      parser.feed(text);
      if (pending > max) throw tooLarge(`${o.label} (one stream event)`, max);
      if (queue.length > 0) yield queue.splice(0);
    }
    const rest = decoder.decode();
    if (rest.length > 0) parser.feed(rest);
    parser.reset({ consume: true });
    if (queue.length > 0) yield queue.splice(0);
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

export interface UntilAnswerOptions extends SseOptions {
  /**
   * Runs after the events of each read, before the answer is returned or an error thrown: what a
   * reader gathers per read (the text of a burst of tokens) goes on from there.
   */
  onBatchEnd?: () => void;
}

/**
 * Reads a stream's events in order, each handed to `onEvent` as it arrives, until one gives an
 * answer (the rest is then left unread and the stream closed) or the stream ends (undefined). An
 * error `onEvent` throws ends the reading too.
 */
export async function untilAnswer<T>(res: Response, o: UntilAnswerOptions, onEvent: (e: EventSourceMessage) => T | undefined): Promise<T | undefined> {
  for await (const batch of sseEventBatches(res, o)) {
    try {
      for (const e of batch) {
        const answer = onEvent(e);
        if (answer !== undefined) return answer;
      }
    } finally {
      o.onBatchEnd?.();
    }
  }
  return undefined;
}

interface ChunkReader {
  read(): Promise<IteratorResult<Uint8Array, unknown>>;
  cancel(): Promise<void>;
}

/** The body's chunks: from the Node stream when the hub's fetch made the response, else from its web stream. */
function chunksOf(res: Response): ChunkReader | undefined {
  const node = takeNodeBody(res);
  if (node !== undefined) return nodeChunks(node);
  if (res.body === null) return undefined;
  const web = res.body.getReader();
  return { read: () => web.read() as Promise<IteratorResult<Uint8Array, unknown>>, cancel: () => web.cancel() };
}

/**
 * A Node stream's chunks, read by its `data` events and paused while one waits unread. Not the
 * stream's async iterator: it builds an end-of-stream watcher and a promise chain per read, which
 * cost a streamed agent call more than the parsing of its events, all before its first chunk.
 * What it reports is the iterator's: the chunks in order, then the end, the stream's error, or
 * ERR_STREAM_PREMATURE_CLOSE when it closed without either.
 */
function nodeChunks(node: Readable): ChunkReader {
  const waiting: Uint8Array[] = [];
  let end: { error: unknown } | 'done' | undefined;
  let reader: { resolve: (r: IteratorResult<Uint8Array, unknown>) => void; reject: (err: unknown) => void } | undefined;
  const settle = () => {
    const r = reader;
    if (r === undefined || end === undefined) return;
    reader = undefined;
    if (end === 'done') r.resolve({ done: true, value: undefined });
    else r.reject(end.error);
  };
  const onData = (chunk: Uint8Array) => {
    if (reader !== undefined) {
      const r = reader;
      reader = undefined;
      r.resolve({ done: false, value: chunk });
      return;
    }
    waiting.push(chunk);
    node.pause();
  };
  const onEnd = () => {
    end ??= 'done';
    settle();
  };
  const onError = (error: unknown) => {
    end ??= { error };
    settle();
  };
  const onClose = () => {
    end ??= { error: Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }) };
    settle();
  };
  // A stream that ended or broke before the reader came (its events gone) is told as it is now.
  if (node.errored) end = { error: node.errored };
  else if (node.readableEnded) end = 'done';
  else if (node.destroyed) onClose();
  node.on('data', onData);
  node.on('end', onEnd);
  node.on('error', onError);
  node.on('close', onClose);
  const read = (): Promise<IteratorResult<Uint8Array, unknown>> => {
    const chunk = waiting.shift();
    if (chunk !== undefined) {
      if (waiting.length === 0 && end === undefined) node.resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (end === 'done') return Promise.resolve({ done: true, value: undefined });
    if (end !== undefined) return Promise.reject(end.error);
    return new Promise((resolve, reject) => {
      reader = { resolve, reject };
    });
  };
  // A response received whole (its last event read, its end not yet) is drained, not destroyed:
  // destroying it would close a connection that can serve the next request, which it does once
  // the end is read, a few ticks later. Not waited for: the answer is on the caller's critical
  // path, the connection's return to the pool is not (a call in between opens another).
  const cancel = async () => {
    node.off('data', onData);
    node.off('end', onEnd);
    node.off('close', onClose);
    // An error after this is nobody's to hear, but must not go unhandled.
    if ((node as Partial<IncomingMessage>).complete !== true) return void node.destroy();
    node.resume();
    finished(node).catch(() => {});
  };
  return { read, cancel };
}
