import { nestsTooDeep, TOO_DEEP_MESSAGE } from './json-depth.js';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { parseJSONRPCMessage, serializeMessage, type JSONRPCMessage, type Server, type Transport } from '@modelcontextprotocol/server';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { jsonRpcCodeOf, type JsonRpcErrorCode } from '../errors.js';
import { identityKey, type Identity } from '../identity/identity.js';
import type { Catalog } from './catalog.js';
import { listenedUris, narrowListen, watchUntil } from './listen-watch.js';
import type { Dispatcher } from './dispatch.js';
import { LineSplitter, type OversizeLine } from './downstream/line-splitter.js';
import { hasRoundedId, requestIdJson, requestIdOf, ROUNDED_ID_MESSAGE } from './json-rpc-id.js';
import { formatBytes, peekOversize, type JsonRpcId } from './downstream/oversize.js';
import { ANSWER_GRACE_MS, describeRequest, OwedAnswers } from './owed-answers.js';
import { createHubServer } from './server.js';
import { strayTo } from './stray.js';

/** The default of the config's `maxMessageBytes`, for callers that build a face without a config. */
const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

export interface StdioFaceOptions {
  dispatcher: Dispatcher;
  catalog: Catalog;
  identity: Identity;
  log: Logger;
  input?: Readable;
  output?: Writable;
  /** Largest message read from stdin or written to stdout, in bytes (config `maxMessageBytes`). */
  maxMessageBytes?: number;
}

export interface StdioFace {
  /** Gives the requests read up to ANSWER_GRACE_MS to be answered, answers the rest hub_stopping, and closes. */
  close(): Promise<void>;
  /**
   * Settles when the connection ends: stdout broken, close() called, or stdin closed and the
   * requests read before answered (or, after ANSWER_GRACE_MS, told hub_stopping).
   */
  readonly closed: Promise<void>;
  /** Resolves once the first answer to a tools/list has been written (what a desktop client waits for at start). */
  readonly listed: Promise<void>;
}

/**
 * The stdio face: one connection, pinned to whichever era the client opens with. stdout carries
 * only protocol messages; the logger writes to stderr.
 */
export function serveStdioFace(opts: StdioFaceOptions): StdioFace {
  let live: Server | undefined;
  let legacy = false;
  const subscriptions = new Set<string>();
  const wire = new BoundedStdioTransport(
    opts.input ?? process.stdin,
    opts.output ?? process.stdout,
    opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    opts.log,
  );
  // A 2026-07-28 client's listen streams, by request id: each ends with the client's cancel of it.
  const listens = new Map<string | number, { uris: readonly string[]; end: () => void; cancelled: boolean }>();
  const watched = () => new Set([...listens.values()].flatMap((l) => l.uris));
  wire.observe = (m) => {
    if ('method' in m && 'id' in m && m.method === 'subscriptions/listen') {
      const asked = listenedUris(m);
      if (asked.length === 0) return undefined;
      let end = () => {};
      const listen = { uris: asked as readonly string[], end: () => end(), cancelled: false };
      listens.set(m.id, listen);
      // The SDK gets the listen once its subscriptions are made, narrowed to the URIs served.
      return watchUntil(opts.dispatcher, opts.identity, asked, (fn) => (end = fn), opts.log).then((served) => {
        if (listen.cancelled) return false;
        listen.uris = served;
        for (const uri of served) subscriptions.add(uri);
        narrowListen(m, served);
        return true;
      });
    }
    if ('method' in m && !('id' in m) && m.method === 'notifications/cancelled') {
      const id = (m.params as { requestId?: string | number } | undefined)?.requestId;
      const listen = id === undefined ? undefined : listens.get(id);
      if (!listen || id === undefined) return undefined;
      listens.delete(id);
      listen.cancelled = true;
      listen.end();
      const still = watched();
      for (const uri of listen.uris) if (!still.has(uri)) subscriptions.delete(uri);
    }
    return undefined;
  };
  const handle = serveStdio(
    (ctx) => {
      // The SDK may build a probe instance for server/discover and discard it; the last one built is live.
      legacy = ctx.era === 'legacy';
      live = createHubServer(opts.dispatcher, opts.identity, ctx.era, {
        onSubscribe: (uri, on) => (on ? subscriptions.add(uri) : subscriptions.delete(uri)),
      });
      return live;
    },
    {
      transport: wire,
      onerror: (err) => opts.log.debug({ err: err.message }, 'stdio protocol error'),
    },
  );
  const me = identityKey(opts.identity);
  const offChange = opts.catalog.onChange((change) => {
    if (!live || (change.identities && !change.identities.some((i) => identityKey(i) === me))) return;
    const send =
      change.kind === 'tools' ? live.sendToolListChanged() : change.kind === 'prompts' ? live.sendPromptListChanged() : live.sendResourceListChanged();
    send.catch(() => {});
  });
  const offUpdated = opts.catalog.onResourceUpdated((uri, identities) => {
    if (!live || !subscriptions.has(uri) || (identities && !identities.some((i) => identityKey(i) === me))) return;
    live.sendResourceUpdated({ uri }).catch(() => {});
  });
  // A 2025 connection hears what a server said outside any call on this identity's own connection to it.
  const offStray = opts.catalog.onStray(strayTo((who) => (live && legacy && identityKey(who) === me ? [{ server: live, id: undefined }] : undefined)));
  return {
    closed: wire.closed,
    listed: wire.listed,
    async close() {
      await wire.drain();
      offChange();
      offUpdated();
      offStray();
      for (const l of listens.values()) l.end();
      listens.clear();
      await handle.close();
    },
  };
}

/** `id`: the request's id as JSON text (requestIdJson), `null` when it has none. */
type Reply = { id: string; code: JsonRpcErrorCode; message: string };

/**
 * The stdio wire of the face: newline-delimited JSON-RPC on stdin/stdout, like the SDK's
 * StdioServerTransport, but every message is bounded by `maxBytes` without ending the
 * connection. The SDK's transport closes itself and pauses stdin on a line over 10 MiB, after
 * which the hub never sees EOF and hangs with its children alive. Here an oversize line is dropped
 * and answered with body_too_large, unparsable input with parse_error (their JSON-RPC codes from
 * ERROR_SPECS: -32600 and -32700, JSON-RPC 2.0 §5.1), and the face keeps serving; a result too
 * large to send becomes a result_too_large error response for its request. When stdin ends, the
 * requests read before are still answered (drain), as those of a script that pipes them and closes.
 */
class BoundedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /**
   * Sees each message the client sent before the SDK does (the face follows listen streams by it).
   * A promise holds that message back until it settles, and drops it if it resolves false.
   */
  observe?: (message: JSONRPCMessage) => Promise<boolean> | undefined;
  readonly closed: Promise<void>;
  readonly listed: Promise<void>;

  private readonly lines: LineSplitter;
  private isClosed = false;
  private resolveClosed: () => void = () => {};
  /** Ids of tools/list requests read, until the first is answered. */
  private lists: Set<JsonRpcId> | undefined = new Set();
  private resolveListed: () => void = () => {};
  private readonly owed = new OwedAnswers();
  private draining: Promise<void> | undefined;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly maxBytes: number,
    private readonly log: Logger,
  ) {
    this.closed = new Promise((res) => (this.resolveClosed = res));
    this.listed = new Promise((res) => (this.resolveListed = res));
    this.lines = new LineSplitter({ maxLineBytes: maxBytes, onLine: (l) => this.receive(l), onOversize: (o) => this.refuse(o) });
  }

  private readonly onData = (chunk: Buffer | string) => this.lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  private readonly onInputError = (err: Error) => this.onerror?.(err);
  private readonly onInputEnd = () => {
    // A script's last request written without its newline (`printf '%s'`, a write then close) is read too.
    if (!this.draining) this.lines.end();
    void this.drain();
  };
  private readonly onOutputError = (err: Error) => {
    if (this.isClosed) return;
    this.onerror?.(err);
    void this.close();
  };

  async start(): Promise<void> {
    if (this.input.readableEnded || this.input.destroyed) setImmediate(this.onInputEnd);
    this.input.on('data', this.onData);
    this.input.on('error', this.onInputError);
    this.input.on('end', this.onInputEnd);
    this.input.on('close', this.onInputEnd);
    this.output.on('error', this.onOutputError);
  }

  private receive(line: Buffer): void {
    let value: unknown;
    const text = line.toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      this.reply({ id: 'null', code: 'parse_error', message: 'Parse error: the line is not valid JSON' });
      return;
    }
    // Parsed first (JSON.parse takes any depth) so that the refusal answers the request's id.
    if (nestsTooDeep(text)) {
      this.reply({ id: requestIdJson(text, value), code: 'bad_request', message: TOO_DEEP_MESSAGE });
      return;
    }
    // The SDK's schema refuses such an id too, but its refusal would carry the rounded number.
    if (hasRoundedId(value)) {
      this.reply({ id: requestIdJson(text, value), code: 'bad_request', message: ROUNDED_ID_MESSAGE });
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(value);
    } catch {
      this.reply({ id: requestIdJson(text, value), code: 'bad_request', message: 'Invalid Request: not a JSON-RPC 2.0 message' });
      return;
    }
    if (this.draining && 'id' in message && 'method' in message) {
      this.reply({ id: JSON.stringify(message.id), code: 'hub_stopping', message: stoppedBefore(describeRequest(message.method, message.params)) });
      return;
    }
    this.owed.read(message);
    if (this.lists && 'id' in message && 'method' in message && message.method === 'tools/list') this.lists.add(message.id);
    const held = this.observe?.(message);
    if (!held) return void this.onmessage?.(message);
    held.then(
      (deliver) => {
        if (deliver && !this.isClosed) this.onmessage?.(message);
      },
      (err: unknown) => this.onerror?.(err as Error),
    );
  }

  private refuse(line: OversizeLine): void {
    // Answer once the line has ended, when an id written last can be read too.
    if (!line.ended) return;
    const peek = peekOversize(line);
    const id = peek.kind === 'request' ? requestIdOf({ id: peek.id }) : null;
    this.log.warn({ bytes: line.bytes, maxMessageBytes: this.maxBytes, id }, 'stdio: dropped an input message over maxMessageBytes');
    // JSON-RPC 2.0 §5: when the id cannot be read (or was read rounded), the error carries id null.
    this.reply({
      id: JSON.stringify(id),
      code: 'body_too_large',
      message: `Invalid Request: the message (${formatBytes(line.bytes)}) exceeded maxMessageBytes (${formatBytes(this.maxBytes)})`,
    });
  }

  private reply(r: Reply): void {
    this.write(errorLine(r)).catch((err: unknown) => this.onerror?.(err as Error));
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('stdio transport is closed'));
    const json = serializeMessage(message);
    const bytes = Buffer.byteLength(json) - 1;
    const answers = 'id' in message && !('method' in message) ? message.id : undefined;
    if (bytes <= this.maxBytes) {
      const sent = this.answering(answers, this.write(json));
      if (this.lists && 'id' in message && !('method' in message) && message.id !== undefined && this.lists.has(message.id)) {
        this.lists = undefined;
        void sent.then(this.resolveListed, () => {});
      }
      return sent;
    }
    this.log.warn({ bytes, maxMessageBytes: this.maxBytes }, 'stdio: an outgoing message exceeded maxMessageBytes');
    const tooLarge = `the ${'method' in message ? 'message' : 'result'} (${formatBytes(bytes)}) exceeded maxMessageBytes (${formatBytes(this.maxBytes)})`;
    // The request still gets its answer: an error in place of the result.
    if ('id' in message && !('method' in message))
      return this.answering(
        answers,
        this.write(
          serializeMessage({
            jsonrpc: '2.0',
            id: message.id,
            error: { code: jsonRpcCodeOf('result_too_large'), message: `Internal error: ${tooLarge}`, data: { code: 'result_too_large' } },
          }),
        ),
      );
    return Promise.reject(new Error(tooLarge));
  }

  private write(json: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.output.write(json, (err) => (err ? reject(err) : undefined))) resolve();
      else this.output.once('drain', resolve);
    });
  }

  /** `written`, after which the request `id` (if any) is owed no answer: it is on stdout. */
  private answering(id: JsonRpcId | undefined, written: Promise<void>): Promise<void> {
    if (id === undefined) return written;
    return written.finally(() => this.owed.answered(id));
  }

  /**
   * The client will send nothing more (stdin ended), or the hub stops: the requests already read
   * get up to ANSWER_GRACE_MS to be answered, as `serve` gives those under way, and the rest are
   * answered hub_stopping rather than dropped (a script that pipes its requests and closes stdin
   * reads every answer after). Requests read meanwhile are answered hub_stopping at once. With
   * nothing owed it closes at once: a desktop client closes stdin to stop the hub.
   */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      await this.owed.settled(ANSWER_GRACE_MS);
      const left = this.owed.take();
      if (this.isClosed) return;
      const told = left.map(({ id, what }) =>
        this.write(errorLine({ id: JSON.stringify(id), code: 'hub_stopping', message: stoppedBefore(what) })).catch(() => {}),
      );
      // Closed in the same turn as those lines go out: an answer the SDK sends later is refused, not a second one.
      await this.close();
      await Promise.all(told);
    })();
    return this.draining;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.input.off('data', this.onData);
    this.input.off('error', this.onInputError);
    this.input.off('end', this.onInputEnd);
    this.input.off('close', this.onInputEnd);
    this.lines.clear();
    // Nothing more can be written: a drain waiting for answers has none to wait for.
    this.owed.take();
    this.onclose?.();
    this.resolveClosed();
  }
}

/** An error response, as one line: its JSON-RPC code and `data.code` from the hub's error table. */
function errorLine(r: Reply): string {
  const error = { code: jsonRpcCodeOf(r.code), message: r.message, data: { code: r.code } };
  return `{"jsonrpc":"2.0","id":${r.id},"error":${JSON.stringify(error)}}\n`;
}

/** hub_stopping's message for a request the hub stopped before answering: ERROR_SPECS has it retryable. */
function stoppedBefore(what: string): string {
  return `the hub stopped before it answered ${what}; send it again once the hub is back`;
}
