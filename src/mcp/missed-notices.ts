import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/**
 * What the SDK's session transport (2.4) calls a session's standalone GET stream in its event
 * store (its private `_standaloneSseStreamId`): what is sent outside any request is stored under
 * it whether or not that stream is open, and a Last-Event-ID stored under it resumes that stream.
 */
const STANDALONE = '_GET_stream';

/**
 * The notices a client answers by reading again (a list, a resource), so the last one of a kind
 * (of a URI, for updates) says all that several said; undefined for any other message.
 */
function keyOf(message: JSONRPCMessage): string | undefined {
  if (!('method' in message) || 'id' in message) return undefined;
  switch (message.method) {
    case 'notifications/tools/list_changed':
    case 'notifications/prompts/list_changed':
    case 'notifications/resources/list_changed':
      return message.method;
    case 'notifications/resources/updated': {
      const uri = message.params?.['uri'];
      return typeof uri === 'string' ? `${message.method} ${uri}` : undefined;
    }
    default:
      return undefined;
  }
}

interface Missed {
  eventId: EventId;
  message: JSONRPCMessage;
  /** Stored while a GET was being answered: a fresh GET's stream was set up then, and took it. */
  opening: boolean;
}

export interface MissedNoticesOptions {
  /** Sends a message on the session's standalone stream (the transport's send, outside any request). */
  resend: (message: JSONRPCMessage) => Promise<void>;
  /** Whether a missed message still concerns the session: an update of a URI it still subscribes to. */
  wanted: (message: JSONRPCMessage) => boolean;
}

/**
 * A 2025 session's event store that also keeps the list changes and resource updates its
 * standalone stream missed, and tells them once that stream opens. The SDK's transport writes what
 * is sent outside a request on the standalone GET stream only; without one it stores it and
 * writes it nowhere. Clients open that stream a moment after `initialize` (fire-and-forget after
 * notifications/initialized), and a first GET carries no Last-Event-ID, so a change told in
 * between was never heard and the client kept a stale list until the next change.
 *
 * A GET that opens the stream afresh is told each kind it missed, once; one that resumes it with
 * Last-Event-ID gets the event store's replay, and then only what the replay did not carry (it
 * carries what the store still holds after that id). Whatever the stream took while open is not
 * kept. Calls' streams pass straight through.
 */
export class MissedNotices implements EventStore {
  private state: 'closed' | 'opening' | 'open' = 'closed';
  /** Counts openings, so the end of a stream a later one replaced does not mark that one closed. */
  private openings = 0;
  private readonly missed = new Map<string, Missed>();

  constructor(
    private readonly store: Required<EventStore>,
    private readonly o: MissedNoticesOptions,
  ) {}

  storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const stored = this.store.storeEvent(streamId, message);
    // Every event of a call's stream passes here: it gets the store's own promise, nothing added.
    const key = streamId === STANDALONE ? keyOf(message) : undefined;
    if (key === undefined) return stored;
    return stored.then((eventId) => {
      // Read as the transport looks for the stream: it does, once this resolves.
      if (this.state !== 'open') {
        this.missed.delete(key);
        this.missed.set(key, { eventId, message, opening: this.state === 'opening' });
      }
      return eventId;
    });
  }

  getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.store.getStreamIdForEventId(eventId);
  }

  replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    return this.store.replayEventsAfter(lastEventId, {
      send: (eventId, message) => {
        if (this.missed.size > 0) for (const [key, m] of this.missed) if (m.eventId === eventId) this.missed.delete(key);
        return send(eventId, message);
      },
    });
  }

  /**
   * Serves a GET of the session (`handle`: the transport's answer to it). When the answer opens
   * the standalone stream, what it missed is sent on it before anything told later.
   */
  async serveGet(request: Request, handle: () => Promise<Response>): Promise<Response> {
    const resumeFrom = request.headers.get('last-event-id');
    // A call's stream resumed: nothing of the standalone stream's.
    if (resumeFrom !== null && (await this.store.getStreamIdForEventId(resumeFrom)) !== STANDALONE) return handle();
    // A second GET while one is open or opening: the transport refuses it (409 Conflict).
    if (this.state !== 'closed') return handle();
    this.state = 'opening';
    const at = ++this.openings;
    let response: Response;
    try {
      response = await handle();
    } catch (err) {
      this.notOpened();
      throw err;
    }
    if (response.status !== 200 || response.body === null || !response.headers.get('content-type')?.includes('text/event-stream')) {
      this.notOpened();
      return response;
    }
    this.state = 'open';
    // The transport (2.4) sets a fresh GET's stream up as handle() is called, before any await: what
    // was stored since went on it. A resumed one is set up after its replay: what that missed is owed.
    const owed = [...this.missed.values()].filter((m) => resumeFrom !== null || !m.opening);
    this.missed.clear();
    for (const { message } of owed) if (this.o.wanted(message)) void this.o.resend(message).catch(() => {});
    const end = () => {
      if (this.openings === at) this.state = 'closed';
    };
    // The client going away cancels the stream; the transport ending it (the session's close) ends it.
    if (request.signal.aborted) end();
    request.signal.addEventListener('abort', end, { once: true });
    return new Response(response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: end })), response);
  }

  /** The GET opened nothing: what was stored meanwhile went nowhere. */
  private notOpened(): void {
    this.state = 'closed';
    for (const m of this.missed.values()) m.opening = false;
  }
}
