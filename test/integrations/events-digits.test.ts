import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHub, type RunningHub } from '../helpers/hub.js';
import { EVENTS_ACME, EVENTS_URI } from './events-acme.js';

/**
 * README: an event's payload reaches MCP clients "as the provider sent it", ids "kept digit for
 * digit, past 2^53 too". A tweet id (1460323737035677698) read with JSON.parse comes out as
 * 1460323737035677700: another tweet's id.
 */

const BODY = '{"type":"tweet_create","tweet":{"id":1460323737035677698,"id_str":"1460323737035677698","n":-98765432109876543210,"small":42}}';

let hub: RunningHub;
let client: Client;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: EVENTS_ACME } });
  client = new Client({ name: 'digits', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(hub.url), { requestInit: { headers: { authorization: `Bearer ${hub.token}` } } }));
  await hub.hub.inbox.inbox.accept({
    integration: 'acme',
    deliveryId: 'msg_big',
    connection: { id: 'conn-alice', tenant: 'default', user: 'alice' },
    type: 'tweet_create',
    payload: Buffer.from(BODY),
  });
});
afterAll(async () => {
  await client?.close().catch(() => {});
  await hub?.stop();
});

describe('event payloads with integers past 2^53', () => {
  it('recent_events: the text holds the numbers as sent, structuredContent their digits as strings', async () => {
    const r = await eventually(async () => {
      const got = await client.callTool({ name: 'acme__recent_events', arguments: {} });
      return (got.structuredContent as { events: unknown[] }).events.length > 0 ? got : undefined;
    });
    const text = (r.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain(`"payload":${BODY}`);
    expect(text).not.toContain('__exact_');
    const structured = r.structuredContent as { events: Array<{ payload: unknown }> };
    expect(structured.events[0]!.payload).toEqual({
      type: 'tweet_create',
      tweet: { id: '1460323737035677698', id_str: '1460323737035677698', n: '-98765432109876543210', small: 42 },
    });
  });

  it('the events resource holds the numbers as sent', async () => {
    const read = await client.readResource({ uri: EVENTS_URI });
    const text = (read.contents[0] as { text: string }).text;
    expect(text).toContain(`"payload":${BODY}`);
    expect(text).not.toContain('__exact_');
  });
});
