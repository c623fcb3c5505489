import {
  isJSONRPCErrorResponse,
  PROTOCOL_VERSION_META_KEY,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type JSONRPCMessage,
  type JSONRPCRequest,
} from '@modelcontextprotocol/client';
import { createParser } from 'eventsource-parser';
import type { Readable } from 'node:stream';
import { abortedOf, endpointOf, post, readText, type Endpoint, type PostAnswer } from './http-post.js';
import { Inbox, parseMessage, stampCall } from './inbox.js';
import { UnresumableEnd } from './in-flight.js';
import { Lifetime } from './lifetime.js';
import { CALL_HEADER } from './relate.js';
import { reachWatchingFetch, relatingFetch, type RelatingFetch } from './relating-fetch.js';
import { scrubbingFetch } from './scrubbing-fetch.js';
import { httpSecrets, scrubberOf } from './server-secrets.js';
import { deleteSession } from './session-delete.js';
import { endsSession, sessionEndedOr, sessionWatchingFetch } from './session-ended.js';
import { mediaType } from '../../providers/media-type.js';

type SendOptions = Parameters<StreamableHTTPClientTransport['send']>[1];

/** What the SDK transport's `_scheduleReconnection` takes: the resumption of one answer stream. */
interface Resumption {
  resumptionToken: string | undefined;
  onresumptiontoken: ((token: string) => void) | undefined;
  replayMessageId: undefined;
  requestSignal: AbortSignal | undefined;
  onRequestStreamEnd: (() => void) | undefined;
}

/**
 * The SDK transport's own reconnection of an answer stream that ended before its answer
 * (SEP-1699): the GET with Last-Event-ID after the server's `retry` (or its backoff), its retry
 * count, auth and errors. Private members of the pinned SDK version; the fast path is off when
 * they are missing, so an SDK that renamed them is only slower, never wrong.
 */
interface SdkStreams {
  _scheduleReconnection?: (options: Resumption, attempt: number) => void;
  _serverRetryMs?: number;
}

/** Header names the transport derives itself; a call's own headers cannot override them (as in the SDK). */
const RESERVED = new Set(['authorization', 'dpop', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id']);
const FIRST_MODERN_VERSION = '2026-07-28';

export interface HubHttpTransportOptions {
  /** The server's configured headers (`mcpServers.<name>.headers`). */
  headers: Record<string, string>;
  /**
   * A call's answer stream that the server ended before the answer: to be resumed (the caller's is
   * to end too), or, with `cause`, broken with no resumption to come (the call is to fail with it).
   */
  onCut: (tag: string, cause?: unknown) => void;
  /** The fetch of the SDK transport's own requests; by default the hub's downstream pool, relating calls' streams. */
  fetch?: RelatingFetch;
  /** The server refused a request sent with the session as one it does not know: it ended the session (session-ended.ts). */
  onSessionEnded?: () => void;
  /** It refused the session's GET so: it ended the session, or (a 404) serves no GET (session-ended.ts). */
  onSessionDoubt?: () => void;
}

/**
 * The hub's client transport to an HTTP downstream: the SDK's Streamable HTTP transport, with a
 * tools/call — the hub's hot path — sent on node:http and its answer read once. The SDK transport
 * parses every message with zod several times over (the request to pick its headers, the answer
 * as it arrives), builds a fetch Request and Response around each call and decodes an SSE answer
 * through two web streams; here the headers come from the message as built, a JSON answer is
 * parsed once with a structural check of the common shapes (anything else takes the SDK's own
 * parse and its errors), and an SSE answer is decoded by eventsource-parser on the socket's chunks.
 *
 * Everything else stays the SDK's: the handshake and version probe (the fast path starts once the
 * protocol version is set), other methods, notifications and responses, the GET stream, DELETE,
 * auth, and the reconnection of a cut answer stream. A fast-path POST answered with a redirect,
 * 401 or 403 — which the server did not act on — is sent again through the SDK transport, which
 * then follows or reports it exactly as it does for any request.
 */
export class HubHttpTransport extends StreamableHTTPClientTransport {
  private readonly endpoint: Endpoint;
  private readonly base: Record<string, string> = {};
  private readonly accept: string;
  private readonly onCut: (tag: string, cause?: unknown) => void;
  private readonly inbox = new Inbox((m) => this.onmessage?.(m));
  private readonly fast: boolean;
  private readonly onSessionEnded: (() => void) | undefined;
  /** Replaces the server's secrets in an error answer's body, which the error thrown with it carries to callers, /readyz and the log. */
  private readonly scrub: (text: string) => string;
  private life: Lifetime | undefined;
  private ready = false;
  /** The DELETE of the session, sent by the first close (the source closes a transport more than once). */
  private deleting: Promise<void> | undefined;
  /** The failure of the latest request of the SDK transport's that could not reach the server (cleared by one that could). */
  private readonly reach: { failure: unknown };
  /**
   * Closes the answer stream of a fast-path call still open, by its request id. A 2025-era server
   * never answers a request it was told is cancelled, and keeps its stream (and with it one of the
   * pool's sockets) open: after 256 cancels every call to it waited for a socket for good.
   */
  private readonly openStreams = new Map<string | number, () => void>();

  constructor(url: URL, opts: HubHttpTransportOptions) {
    const reach: { failure: unknown } = { failure: undefined };
    // Set once constructed: a request whose answer stream broke is answered with the cause (relating-fetch.ts).
    const broken = { answer: (_m: JSONRPCMessage) => {} };
    const secrets = httpSecrets(url, opts.headers);
    const fetch = reachWatchingFetch(scrubbingFetch(opts.fetch ?? relatingFetch(opts.onCut, (m) => broken.answer(m)), secrets), reach);
    const ended = opts.onSessionEnded;
    super(url, { requestInit: { headers: opts.headers }, fetch: ended ? sessionWatchingFetch(fetch, ended, opts.onSessionDoubt ?? (() => {})) : fetch });
    this.reach = reach;
    this.scrub = scrubberOf(secrets);
    broken.answer = (m) => this.inbox.push(m);
    this.onSessionEnded = ended;
    this.endpoint = endpointOf(url);
    this.onCut = opts.onCut;
    for (const [name, value] of Object.entries(opts.headers)) this.base[name.toLowerCase()] = value;
    // As the SDK merges them: the configured accept types, then JSON and SSE, each once.
    const types = [...(this.base['accept']?.split(',').map((s) => s.trim().toLowerCase()) ?? []), 'application/json', 'text/event-stream'];
    this.accept = [...new Set(types)].join(', ');
    this.fast = typeof this.streams()._scheduleReconnection === 'function';
  }

  override async start(): Promise<void> {
    await super.start();
    this.life = new Lifetime();
  }

  override async close(): Promise<void> {
    this.ready = false;
    this.life?.end();
    // Before the SDK's close, which aborts every request of the transport's, this one too.
    this.deleting ??= deleteSession(this);
    await this.deleting;
    return super.close();
  }

  /** The SDK sets the version once the handshake or probe has settled the era: calls may go fast from then on. */
  override setProtocolVersion(version: string): void {
    super.setProtocolVersion(version);
    this.ready = true;
  }

  override async send(message: JSONRPCMessage | JSONRPCMessage[], options?: SendOptions): Promise<void> {
    const hadSession = this.sessionId !== undefined;
    try {
      await this.sendNow(message, options);
    } catch (error) {
      throw sessionEndedOr(error, hadSession);
    } finally {
      // Told (or at least tried): the cancelled call's stream will bring nothing more.
      const cancelled = cancelledRequestOf(message);
      if (cancelled !== undefined) this.openStreams.get(cancelled)?.();
    }
  }

  private async sendNow(message: JSONRPCMessage | JSONRPCMessage[], options?: SendOptions): Promise<void> {
    const life = this.life;
    if (!this.fast || !this.ready || life === undefined || life.ended || !isToolCall(message) || options?.resumptionToken !== undefined) {
      return super.send(message, this.resumable(message, options));
    }
    let outcome: 'done' | 'resend';
    try {
      outcome = await this.post(message, options, life);
    } catch (error) {
      if (options?.requestSignal?.aborted !== true) this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    // The server did not act on the POST (a redirect, 401, 403): the SDK transport sends it again
    // and handles the answer its way, reporting its own errors.
    if (outcome === 'resend') return super.send(message, this.resumable(message, options));
  }

  /**
   * A related tools/call as the SDK transport sends it: once it gives up resuming the call's answer
   * stream (SEP-1699) because the server could not be reached, the call is failed with that cause
   * (a broken stream it will not resume is reported by relating-fetch.ts).
   */
  private resumable(message: JSONRPCMessage | JSONRPCMessage[], options: SendOptions): SendOptions {
    const tag = isToolCall(message) ? tagOf(options) : undefined;
    if (tag === undefined) return options;
    return { ...options, onRequestStreamEnd: this.unresumed(tag, undefined, options?.onRequestStreamEnd) };
  }

  /**
   * What runs when the SDK transport's resumption of a call's answer stream ends: after the answer,
   * or when it gave up (its retries spent). A call that has no answer by then never will: it fails
   * with what kept the stream from being resumed — the server unreachable, or the stream's own
   * break — and a call already answered is not failed by it (calls.ts).
   */
  private unresumed(tag: string, broken: unknown, next: (() => void) | undefined): () => void {
    return () => {
      next?.();
      const cause = this.reach.failure ?? broken;
      if (cause !== undefined) this.onCut(tag, cause);
    };
  }

  /** Sends a tools/call and takes in its answer; 'resend' when the SDK transport is to send it instead. */
  private async post(message: JSONRPCRequest, options: SendOptions, life: Lifetime): Promise<'done' | 'resend'> {
    const headers: Record<string, string> = { ...this.base };
    const session = this.sessionId;
    if (session) headers['mcp-session-id'] = session;
    const version = this.protocolVersion;
    if (version) headers['mcp-protocol-version'] = version;
    const claimed = envelopeVersion(message);
    if (claimed !== undefined) {
      headers['mcp-protocol-version'] = claimed;
      headers['mcp-method'] = message.method;
      const name = message.params?.['name'];
      if (typeof name === 'string') headers['mcp-name'] = encodeFieldValue(name);
    }
    let tag: string | undefined;
    for (const [name, value] of Object.entries(options?.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === CALL_HEADER) tag = value;
      else if (!RESERVED.has(lower)) headers[lower] = value;
    }
    headers['content-type'] = 'application/json';
    headers['accept'] = this.accept;
    const call = life.join();
    const signals = options?.requestSignal ? [call.signal, options.requestSignal] : [call.signal];
    let answer: PostAnswer;
    try {
      answer = await post(this.endpoint, headers, Buffer.from(JSON.stringify(message)), signals);
    } catch (err) {
      call.leave();
      throw err;
    }
    answer.message.once('close', call.leave);
    const { status } = answer;
    if ((status >= 300 && status < 400 && status !== 304) || status === 401 || status === 403) {
      answer.body.resume();
      return 'resend';
    }
    if (status < 200 || status > 299) {
      await this.refused(answer, message, claimed, signals);
      return 'done';
    }
    if (status === 202) {
      answer.body.resume();
      return 'done';
    }
    const contentType = answer.headers['content-type'];
    const type = mediaType(contentType);
    if (type === 'text/event-stream') {
      this.stream(answer.body, tag, options, message.id);
      return 'done';
    }
    if (type !== 'application/json') {
      answer.body.resume();
      throw new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${contentType ?? null}`, { contentType: contentType ?? null });
    }
    const data: unknown = JSON.parse(await readText(answer.body, signals));
    const messages = Array.isArray(data) ? data.map(parseMessage) : [parseMessage(data)];
    for (const m of messages) this.inbox.push(m);
    return 'done';
  }

  /** A 4xx or 5xx answer: a 2026-07-28 JSON-RPC error is delivered, anything else thrown as the SDK transport throws it. */
  private async refused(answer: PostAnswer, message: JSONRPCRequest, claimed: string | undefined, signals: readonly AbortSignal[]): Promise<void> {
    const read = await readText(answer.body, signals).catch(() => null);
    const text = read === null ? null : this.scrub(read);
    // The session refused (session-ended.ts): `send` makes the error thrown below SessionEnded.
    const ended = this.sessionId !== undefined && endsSession(answer.status, text);
    if (ended) this.onSessionEnded?.();
    // A 2026-07-28 server answers a request it rejects as such with 400 and the JSON-RPC error.
    if (!ended && answer.status === 400 && text !== null && claimed !== undefined && claimed >= FIRST_MODERN_VERSION) {
      try {
        const parsed = parseMessage(JSON.parse(text));
        if (isJSONRPCErrorResponse(parsed) && parsed.id === message.id) {
          this.inbox.push(parsed);
          return;
        }
      } catch {
        // not a JSON-RPC error: reported below as the HTTP error it is
      }
    }
    throw new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
      status: answer.status,
      statusText: this.scrub(answer.statusText),
      text,
    });
  }

  /**
   * An SSE answer, read as the SDK reads one: each event's id is the resumption token; `message`
   * events carry JSON-RPC messages; a stream that ends without the answer after a priming event is
   * resumed by the SDK's reconnection. Requests and notifications of a related call get its tag
   * (relate.ts), and a call whose stream ended unanswered is reported cut, as relating-fetch does:
   * to be resumed, or broken (the connection reset or closed mid-answer) with no resumption to come,
   * when the call is to fail at once rather than wait out its timeout.
   */
  private stream(body: Readable, tag: string | undefined, options: SendOptions, id: string | number): void {
    const requestSignal = options?.requestSignal;
    let cancelled = false;
    this.openStreams.set(id, () => {
      cancelled = true;
      body.destroy();
    });
    const intentional = () => cancelled || this.life?.ended === true || requestSignal?.aborted === true;
    let lastEventId: string | undefined;
    let primed = false;
    let answered = false;
    let ended = false;
    const parser = createParser({
      onEvent: (event) => {
        if (event.id) {
          lastEventId = event.id;
          primed = true;
          options?.onresumptiontoken?.(event.id);
        }
        if (!event.data || (event.event && event.event !== 'message')) return;
        try {
          const m = parseMessage(JSON.parse(event.data));
          if (!('method' in m)) answered = true;
          this.inbox.push(tag === undefined ? m : stampCall(m, tag));
        } catch (error) {
          this.onerror?.(error instanceof Error ? error : new Error(String(error)));
        }
      },
      onRetry: (ms) => {
        this.streams()._serverRetryMs = ms;
      },
    });
    const end = (failure: unknown) => {
      if (ended) return;
      ended = true;
      this.openStreams.delete(id);
      if (failure !== undefined) {
        if (intentional()) return;
        this.onerror?.(new Error(`SSE stream disconnected: ${String(failure)}`));
      } else if (!answered && tag !== undefined) {
        this.onCut(tag);
      }
      if (primed && !answered && !intentional()) {
        this.streams()._scheduleReconnection?.(
          {
            resumptionToken: lastEventId,
            onresumptiontoken: options?.onresumptiontoken,
            replayMessageId: undefined,
            requestSignal,
            onRequestStreamEnd: tag === undefined ? options?.onRequestStreamEnd : this.unresumed(tag, failure, options?.onRequestStreamEnd),
          },
          0,
        );
      } else if (!intentional()) {
        options?.onRequestStreamEnd?.();
        // Broken, or ended, before any event id: there is nothing to resume from, and no answer can come.
        if (!answered && tag !== undefined) this.onCut(tag, failure ?? new UnresumableEnd());
      }
    };
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => parser.feed(chunk));
    body.once('end', () => end(undefined));
    body.once('error', (err) => end(err));
    body.once('close', () => {
      if (!body.readableEnded) end(abortedOf(requestSignal ? [requestSignal] : [])?.reason ?? new Error('terminated'));
    });
  }

  private streams(): SdkStreams {
    return this as unknown as SdkStreams;
  }
}

/** The request a `notifications/cancelled` names. */
function cancelledRequestOf(message: JSONRPCMessage | JSONRPCMessage[]): string | number | undefined {
  if (Array.isArray(message) || !('method' in message) || message.method !== 'notifications/cancelled' || 'id' in message) return undefined;
  const id: unknown = message.params?.['requestId'];
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** The hub's call a request is related to (relate.ts), from the header the hub sends it with. */
function tagOf(options: SendOptions): string | undefined {
  for (const [name, value] of Object.entries(options?.headers ?? {})) if (name.toLowerCase() === CALL_HEADER) return value;
  return undefined;
}

function isToolCall(message: JSONRPCMessage | JSONRPCMessage[]): message is JSONRPCRequest {
  return !Array.isArray(message) && 'method' in message && message.method === 'tools/call' && 'id' in message;
}

/** The protocol version a 2026-07-28 request claims in its envelope (the SDK derives its headers from it). */
function envelopeVersion(message: JSONRPCRequest): string | undefined {
  const meta = message.params?._meta;
  const v: unknown = meta?.[PROTOCOL_VERSION_META_KEY];
  return typeof v === 'string' ? v : undefined;
}

/**
 * An HTTP field value as SEP-2243 encodes one: visible ASCII as it is, anything else (and a value
 * that looks encoded already, or has outer whitespace) as `=?base64?…?=` of its UTF-8.
 */
function encodeFieldValue(value: string): string {
  const plain = value.length > 0 && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value) && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}
