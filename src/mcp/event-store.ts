import { randomUUID } from 'node:crypto';
import type { EventId, EventStore, JSONRPCMessage, StreamId } from '@modelcontextprotocol/server';

/**
 * Bounded in-memory event store for one 2025-era session, so a client whose SSE stream drops can
 * resume with Last-Event-ID (SEP-1699). Old events fall off once the bound is reached.
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();
  private seq = 0;

  constructor(private readonly max = 1000) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}::${String(++this.seq).padStart(12, '0')}`;
    this.events.set(id, { streamId, message });
    if (this.events.size > this.max) this.events.delete(this.events.keys().next().value!);
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
