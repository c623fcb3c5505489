/**
 * A delivery whose body comes compressed (`Content-Encoding: gzip`, `deflate`, `br`: HTTP lets any
 * sender or proxy on the way compress a request body) is verified against the bytes its sender
 * signed, the payload (or, failing that, the compressed bytes as they went out), and kept as the payload; a coding the hub does not read is a 415, a body
 * that does not decode as its header says a 400, and one that decodes past `maxBodyBytes` a 413,
 * as the sandbox's endpoints answer them. Real HTTP on loopback, signed as Standard Webhooks signs.
 */
import { createHmac } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { ACME, ACME_SECRET, standardHeaders, tokens } from './route-harness.js';

const MAX = 4096;
let hub: RunningHub;

beforeAll(async () => {
  hub = await startHub({ integrations: { acme: { ...ACME, webhooks: { ...ACME.webhooks, maxBodyBytes: MAX } } } });
  await hub.hub.integrations.connections.link({ tenant: 'default', user: 'alice', integration: 'acme', tokens: tokens(1), scopes: [], accountId: 'acct-A' });
});
afterAll(() => hub.stop());

/** Posts `sent` signed over `signed` (the payload), with this Content-Encoding. */
async function deliver(id: string, signed: string, sent: Buffer, encoding: string) {
  const headers = { ...standardHeaders(ACME_SECRET, id, signed), 'content-encoding': encoding };
  const res = await fetch(`${new URL(hub.url).origin}/webhooks/acme`, { method: 'POST', headers, body: new Uint8Array(sent) });
  return { status: res.status, json: (await res.json()) as { id?: string; routed?: number; error?: { code: string; message: string } } };
}

const payload = (id: string) => JSON.stringify({ id, type: 'ticket.updated', account_id: 'acct-A', note: 'x'.repeat(200) });

describe('a compressed webhook delivery', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('%s: verified on the payload its sender signed, routed, and kept as that payload', async (encoding, compress) => {
    const body = payload(`ev-${encoding}`);
    const r = await deliver(`msg-${encoding}`, body, compress(Buffer.from(body)), encoding);
    expect(r).toMatchObject({ status: 200, json: { routed: 1 } });
    const event = await hub.hub.inbox.inbox.get(r.json.id!);
    expect(event).toMatchObject({ providerEventId: `ev-${encoding}`, type: 'ticket.updated', connection: { user: 'alice' } });
    expect(event!.payload.toString('utf8')).toBe(body);
  });

  it('signed over its compressed bytes as they went out, it is verified on those and kept decoded', async () => {
    const body = payload('ev-wire');
    const sent = gzipSync(Buffer.from(body));
    // Standard Webhooks' scheme over the bytes on the wire: HMAC-SHA256 of `id.timestamp.` and the gzip bytes.
    const seconds = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(ACME_SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`msg-wire.${seconds}.`).update(sent).digest('base64');
    const headers = {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'webhook-id': 'msg-wire',
      'webhook-timestamp': seconds,
      'webhook-signature': `v1,${mac}`,
    };
    const res = await fetch(`${new URL(hub.url).origin}/webhooks/acme`, { method: 'POST', headers, body: new Uint8Array(sent) });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect((await hub.hub.inbox.inbox.get(id))!.payload.toString('utf8')).toBe(body);
  });

  it('a coding the hub does not read is 415, a body that does not decode 400, one that decodes past maxBodyBytes 413; nothing is stored', async () => {
    const before = (await hub.hub.inbox.inbox.list({ limit: 100 })).length;
    const body = payload('ev-refused');
    expect(await deliver('msg-compress', body, Buffer.from(body), 'compress')).toMatchObject({
      status: 415,
      json: { error: { code: 'unsupported_media_type' } },
    });
    expect(await deliver('msg-plain', body, Buffer.from(body), 'gzip')).toMatchObject({ status: 400, json: { error: { code: 'bad_body' } } });
    const big = JSON.stringify({ id: 'ev-big', account_id: 'acct-A', pad: ' '.repeat(MAX) });
    const bomb = gzipSync(Buffer.from(big));
    expect(bomb.length).toBeLessThan(MAX);
    expect(await deliver('msg-big', big, bomb, 'gzip')).toMatchObject({ status: 413, json: { error: { code: 'body_too_large' } } });
    expect(await hub.hub.inbox.inbox.list({ limit: 100 })).toHaveLength(before);
  });
});
