import { randomUUID } from 'node:crypto';
import { ProtocolErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/server';
import type { Response } from 'express';
import { STREAM_START_HOLD_MS } from '../modern-node.js';

/** Where a direct call's messages go: its notifications as they come, then its answer. */
export interface AnswerSink {
  readonly ended: boolean;
  /** Resolves once the message is written, or once a slow client's socket has drained. */
  send(message: JSONRPCMessage): Promise<void>;
  end(message: JSONRPCMessage): void;
  /** No answer (the call was cancelled): the response ends empty. */
  abandon(): void;
  /** Called once when the client goes away before the answer (not when the hub closed the stream). */
  onGone(listener: () => void): void;
}

/** Events kept for a client to resume a stream the hub closed; past this, notifications are dropped (the answer never is). */
const PARKED_BYTES = 4 * 1024 * 1024;

/** The SSE `retry` a closed stream tells its client, as the SDK's sessions do (src/mcp/http-face.ts). */
const RETRY_MS = 1_000;

/** Names a stream of the direct path in its event ids, so its resumption comes back to it. */
export const STREAM_KEY_PREFIX = 'direct-';

const STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * The call's answer as an event stream shaped like the SDK's (same headers and events, no ids):
 * headers wait up to STREAM_START_HOLD_MS for the first event, events written in one tick leave
 * in one write, and the result leaves with the end of the response.
 *
 * The hub may close the stream mid-call (`detach`, SEP-1699 polling, when a downstream closed its
 * own): the stream ends with an event whose id names it, and what the call says afterwards waits
 * for the client's GET with that `Last-Event-ID` (`attach`).
 */
export class EventStreamAnswer implements AnswerSink {
  ended = false;
  private res: Response | undefined;
  private started = false;
  private corked = false;
  private hold: NodeJS.Timeout | undefined;
  private gone: (() => void) | undefined;
  /** Set once detached: the stream's name in its event ids, and what waits for the client. */
  private key: string | undefined;
  private detaches = 0;
  private queue: string[] = [];
  private queuedBytes = 0;
  /** The answer came while detached: it leaves with the resumed stream. */
  private finished = false;
  /** The priming event, until it leaves with the stream's first write. */
  private prefix = '';

  /**
   * `resumable`: the client resumes streams (2025-11-25 on), so the stream opens with the SDK's
   * priming event (an id to resume from and the retry interval), sent with the first event.
   */
  constructor(
    res: Response,
    private readonly headers: Record<string, string>,
    resumable = false,
  ) {
    if (resumable) {
      this.key = `${STREAM_KEY_PREFIX}${randomUUID()}`;
      this.prefix = `id: ${this.key}::0\nretry: ${RETRY_MS}\ndata: \n\n`;
    }
    this.watch(res);
    this.hold = setTimeout(() => {
      // A call with nothing to say yet: its client learns the stream is open.
      this.start();
      if (this.prefix) this.res?.write(this.take(''));
      else this.res?.flushHeaders();
    }, STREAM_START_HOLD_MS);
  }

  onGone(listener: () => void): void {
    this.gone = listener;
  }

  /**
   * Set by a 2025 session: where a resumable stream the client lost is kept (under its key) for
   * the client to resume; without it, or for a client that does not resume, the loss is `onGone`'s.
   */
  onDrop: ((key: string) => void) | undefined;

  /**
   * When the client reads slower than the events come, this resolves once the socket drains: a
   * source that awaits it (the agents' progress reporter merges what arrives meanwhile) holds no
   * more than a socket's buffer of unsent events.
   */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.ended) return Promise.resolve();
    const res = this.res;
    if (!res) {
      this.enqueue(event(message), false);
      return Promise.resolve();
    }
    if (res.destroyed) return Promise.resolve();
    this.start();
    if (!this.corked) {
      this.corked = true;
      res.cork();
      setImmediate(() => {
        this.corked = false;
        res.uncork();
      });
    }
    if (res.write(this.take(event(message)))) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.once('drain', done);
      res.once('close', done);
    });
  }

  end(message: JSONRPCMessage): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.hold);
    if (!this.res) {
      this.enqueue(event(message), true);
      this.finished = true;
      return;
    }
    if (this.res.destroyed) return;
    // An error that is the stream's only event goes without the priming id: there is nothing to
    // resume. A 1.x SDK client waits for a result, not an error: having an id it resumed the
    // finished stream, then opened a second GET stream and got 409 Conflict, on every error.
    if (!this.started && 'error' in message) this.prefix = '';
    this.start();
    this.res.end(this.take(event(message)));
  }

  abandon(): void {
    this.ended = true;
    clearTimeout(this.hold);
    this.drop();
  }

  /**
   * Closes the client's stream while the call goes on; returns the stream's key, under which the
   * session keeps it for the client's resumption. Ends with an event carrying the id to resume
   * from and the retry interval, as the SDK's priming event does.
   */
  detach(): string | undefined {
    const res = this.res;
    if (this.ended || !res || res.destroyed) return undefined;
    this.key ??= `${STREAM_KEY_PREFIX}${randomUUID()}`;
    this.start();
    this.res = undefined;
    res.end(this.take(`id: ${this.key}::${++this.detaches}\nretry: ${RETRY_MS}\ndata: \n\n`));
    return this.key;
  }

  /** The client's resumption: what waited goes out on `res`, then the call's stream goes on there (or ends, if it has). */
  attach(res: Response): void {
    this.watch(res);
    this.started = false;
    this.start();
    const waiting = this.queue.join('');
    this.queue = [];
    this.queuedBytes = 0;
    if (this.finished) {
      res.end(waiting);
      return;
    }
    if (waiting) res.write(waiting);
    if (this.ended) res.end();
  }

  /** No answer will come (the client cancelled the call): the stream stays open, quiet, until its client closes it. */
  silence(onClosed: () => void): void {
    this.ended = true;
    clearTimeout(this.hold);
    const res = this.res;
    if (!res || res.destroyed) {
      onClosed();
      return;
    }
    this.start();
    if (this.prefix) res.write(this.take(''));
    else res.flushHeaders();
    res.once('close', onClosed);
  }

  /** Nobody will read what waits: the response, if any, ends empty. */
  drop(): void {
    this.queue = [];
    this.queuedBytes = 0;
    const res = this.res;
    if (!res || res.destroyed) return;
    this.start();
    res.end(this.take(''));
  }

  private watch(res: Response): void {
    this.res = res;
    res.once('close', () => {
      // The hub's own close (detach) moved on from this response; the answer's end is not a loss.
      if (this.res !== res || this.ended) return;
      // A client that resumes streams lost this one (a proxy's idle timeout, a network change):
      // what the call says next waits for its GET with Last-Event-ID, as after a detach. The
      // spec: a disconnection is not a cancellation.
      if (this.key !== undefined && this.onDrop) {
        this.res = undefined;
        this.onDrop(this.key);
        return;
      }
      this.gone?.();
    });
  }

  private take(chunk: string): string {
    if (!this.prefix) return chunk;
    const out = this.prefix + chunk;
    this.prefix = '';
    return out;
  }

  private enqueue(chunk: string, answer: boolean): void {
    if (!answer && this.queuedBytes + chunk.length > PARKED_BYTES) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  private start(): void {
    if (this.started || !this.res) return;
    this.started = true;
    clearTimeout(this.hold);
    this.res.writeHead(200, { ...STREAM_HEADERS, ...this.headers });
  }
}

/**
 * The answer as one JSON body: a call's sink only until it says something before its answer (see
 * AutoAnswer). Notifications have nowhere to go in it and are dropped.
 */
export class JsonAnswer implements AnswerSink {
  ended = false;

  constructor(private readonly res: Response) {}

  onGone(listener: () => void): void {
    this.res.once('close', () => {
      if (!this.ended) listener();
    });
  }

  send(_message: JSONRPCMessage): Promise<void> {
    return Promise.resolve();
  }

  end(message: JSONRPCMessage): void {
    if (this.ended) return;
    this.ended = true;
    if (this.res.destroyed) return;
    // In-band errors are 200, but for the one the spec ties to 400 whatever its origin (-32021).
    const missingCapability = 'error' in message && message.error.code === ProtocolErrorCode.MissingRequiredClientCapability;
    this.res.writeHead(missingCapability ? 400 : 200, { 'content-type': 'application/json' });
    this.res.end(JSON.stringify(message));
  }

  abandon(): void {
    this.ended = true;
    if (!this.res.destroyed) this.res.destroy();
  }
}

/**
 * A 2026-07-28 call that asked for no progress, answered as the SDK's handler answers it (its
 * default `responseMode: 'auto'`): one JSON body when the call says nothing before its answer, an
 * event stream from the first notification on (a log message at the request's `logLevel`, a
 * server's own notification), so none is dropped.
 */
export class AutoAnswer implements AnswerSink {
  private readonly json: JsonAnswer;
  private stream: EventStreamAnswer | undefined;

  constructor(private readonly res: Response) {
    this.json = new JsonAnswer(res);
  }

  get ended(): boolean {
    return this.stream?.ended ?? this.json.ended;
  }

  onGone(listener: () => void): void {
    // Watched here, not by either sink: the JSON sink never ends once the stream took over.
    this.res.once('close', () => {
      if (!this.ended) listener();
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.stream ??= new EventStreamAnswer(this.res, {});
    return this.stream.send(message);
  }

  end(message: JSONRPCMessage): void {
    if (this.stream) this.stream.end(message);
    else this.json.end(message);
  }

  abandon(): void {
    if (this.stream) this.stream.abandon();
    else this.json.abandon();
  }
}

function event(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}
