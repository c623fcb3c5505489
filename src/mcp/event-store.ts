import { randomUUID } from 'node:crypto';
import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/**
 * Bounded in-memory event store for one 2025-era session, so a client whose SSE stream drops can
 * resume with Last-Event-ID (SEP-1699). Old events fall off once either bound is reached: the
 * count, or the bytes, since one large result after another would otherwise hold gigabytes per
 * session. A message larger than the byte bound is not kept (a resumption cannot replay it).
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage; bytes: number }>();
  private seq = 0;
  private bytes = 0;

  constructor(
    private readonly max = 1000,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  get size(): { events: number; bytes: number } {
    return { events: this.events.size, bytes: this.bytes };
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}::${String(++this.seq).padStart(12, '0')}`;
    // UTF-16 length: close enough to bytes for a memory bound, and no second encoding pass.
    const bytes = JSON.stringify(message).length;
    if (bytes > this.maxBytes) return id;
    this.events.set(id, { streamId, message, bytes });
    this.bytes += bytes;
    while (this.events.size > this.max || this.bytes > this.maxBytes) {
      const [oldest, ev] = this.events.entries().next().value!;
      this.events.delete(oldest);
      this.bytes -= ev.bytes;
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId ?? eventId.split('::')[0];
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const streamId = lastEventId.split('::')[0] ?? randomUUID();
    for (const [id, ev] of this.events) {
      if (ev.streamId === streamId && id > lastEventId) await send(id, ev.message);
    }
    return streamId;
  }
}
