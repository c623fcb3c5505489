import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { HubError } from '../errors.js';
import { tooLarge } from './body-limit.js';

export type { EventSourceMessage };

export interface SseOptions {
  label: string;
  /** The stream fails when no byte arrives for this long (comments and keep-alives count). */
  idleMs: number;
  /** Characters one event may take; a line that never ends is cut here instead of filling memory. */
  maxEventChars?: number;
}

/**
 * The events of a `text/event-stream` response (WHATWG HTML §9.2), parsed by eventsource-parser.
 * A stream has no overall deadline — an agent may work for minutes — so silence is what ends it:
 * after `idleMs` without a byte it fails with provider_timeout and the connection is closed.
 */
export async function* sseEvents(res: Response, o: SseOptions): AsyncGenerator<EventSourceMessage> {
  if (res.body === null) return;
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
  // queues per response, which cost a streamed agent call more than its parsing.
  const reader = res.body.getReader();
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
      while (queue.length > 0) yield queue.shift()!;
    }
    const rest = decoder.decode();
    if (rest.length > 0) parser.feed(rest);
    parser.reset({ consume: true });
    while (queue.length > 0) yield queue.shift()!;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
