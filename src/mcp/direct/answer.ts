import type { JSONRPCMessage } from '@modelcontextprotocol/server';
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
}

/**
 * The call's answer as an event stream shaped like the SDK's (same headers and events, no ids):
 * headers wait up to STREAM_START_HOLD_MS for the first event, events written in one tick leave
 * in one write, and the result leaves with the end of the response.
 */
export class EventStreamAnswer implements AnswerSink {
  ended = false;
  private started = false;
  private corked = false;
  private readonly hold: NodeJS.Timeout;

  constructor(
    private readonly res: Response,
    private readonly headers: Record<string, string>,
  ) {
    this.hold = setTimeout(() => {
      // A call with nothing to say yet: its client learns the stream is open.
      this.start();
      this.res.flushHeaders();
    }, STREAM_START_HOLD_MS);
  }

  /**
   * When the client reads slower than the events come, this resolves once the socket drains: a
   * source that awaits it (the agents' progress reporter merges what arrives meanwhile) holds no
   * more than a socket's buffer of unsent events.
   */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.ended || this.res.destroyed) return Promise.resolve();
    this.start();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      setImmediate(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    if (this.res.write(event(message))) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  end(message: JSONRPCMessage): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.hold);
    if (this.res.destroyed) return;
    this.start();
    this.res.end(event(message));
  }

  abandon(): void {
    this.ended = true;
    clearTimeout(this.hold);
    if (this.res.destroyed) return;
    this.start();
    this.res.end();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    clearTimeout(this.hold);
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...this.headers,
    });
  }
}

/**
 * The answer as one JSON body, as the SDK's 2026-07-28 handler gives a call that asked for no
 * progress. Notifications have nowhere to go in it and are dropped, as there.
 */
export class JsonAnswer implements AnswerSink {
  ended = false;

  constructor(private readonly res: Response) {}

  send(_message: JSONRPCMessage): Promise<void> {
    return Promise.resolve();
  }

  end(message: JSONRPCMessage): void {
    if (this.ended) return;
    this.ended = true;
    if (this.res.destroyed) return;
    this.res.writeHead(200, { 'content-type': 'application/json' });
    this.res.end(JSON.stringify(message));
  }

  abandon(): void {
    this.ended = true;
    if (!this.res.destroyed) this.res.destroy();
  }
}

function event(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}
