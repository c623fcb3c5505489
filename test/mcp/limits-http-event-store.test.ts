import type { EventId, JSONRPCMessage } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { BoundedEventStore } from '../../src/mcp/event-store.js';

function result(id: number, text: string): JSONRPCMessage {
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
}

async function replay(store: BoundedEventStore, after: EventId): Promise<Array<{ id: EventId; message: JSONRPCMessage }>> {
  const sent: Array<{ id: EventId; message: JSONRPCMessage }> = [];
  await store.replayEventsAfter(after, { send: async (id, message) => void sent.push({ id, message }) });
  return sent;
}

describe('the 2025 session event store stays bounded', () => {
  it('keeps the newest events within the byte bound and replays them in order', async () => {
    const size = JSON.stringify(result(1, 'x'.repeat(1000))).length;
    const store = new BoundedEventStore(1000, size * 3);
    const ids: EventId[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await store.storeEvent('s1', result(i, 'x'.repeat(1000))));
    expect(store.size).toEqual({ events: 3, bytes: size * 3 });
    expect(await replay(store, ids[1]!)).toEqual([3, 4, 5].map((i) => ({ id: ids[i - 1], message: result(i, 'x'.repeat(1000)) })));
  });

  it('does not keep a message larger than the whole bound, and keeps what it had', async () => {
    const store = new BoundedEventStore(1000, 10_000);
    const first = await store.storeEvent('s1', result(1, 'small'));
    const second = await store.storeEvent('s1', result(2, 'small'));
    const huge = await store.storeEvent('s1', result(3, 'y'.repeat(20_000)));
    expect(huge).toMatch(/^s1::/);
    expect(store.size.events).toBe(2);
    expect(await replay(store, first)).toEqual([{ id: second, message: result(2, 'small') }]);
  });

  it('keeps at most the event count', async () => {
    const store = new BoundedEventStore(2);
    const ids: EventId[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await store.storeEvent('s1', result(i, 'a')));
    expect(store.size.events).toBe(2);
    expect(await replay(store, ids[0]!)).toEqual([3, 4].map((i) => ({ id: ids[i - 1], message: result(i, 'a') })));
  });
});
