import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSelector, type Selector } from '../../src/definition/selector.js';
import { webhooksSchema } from '../../src/definition/webhooks.js';
import { describeDelivery, verifyDelivery } from '../../src/webhooks/schemes/index.js';
import { CASES } from './schemes-signers.js';

const sel = (text: string): Selector => parseSelector(text) as Selector;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('describeDelivery: the scheme defaults', () => {
  it('standard-webhooks: the webhook-id header, the body type, the payload parsed once', () => {
    const body = json({ type: 'ticket.updated', data: { id: 7 } });
    expect(describeDelivery({ format: { scheme: 'standard-webhooks' }, body, headers: { 'webhook-id': 'msg_1' } })).toEqual({
      ok: true,
      kind: 'event',
      deliveryId: 'msg_1',
      deliveryIdFrom: 'provider',
      type: 'ticket.updated',
      payload: { type: 'ticket.updated', data: { id: 7 } },
    });
  });

  it('stripe: the event id and type in the body', () => {
    const body = json({ id: 'evt_1NG8Du2eZvKYlo2CUI79vXWy', type: 'invoice.paid', account: 'acct_1' });
    expect(describeDelivery({ format: { scheme: 'stripe', accountFrom: sel('body:account') }, body, headers: {} })).toMatchObject({
      deliveryId: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
      type: 'invoice.paid',
      accountId: 'acct_1',
    });
  });

  it('github: one delivery GUID is shared by every hook of an event, so the hook id qualifies it', () => {
    const body = json({ action: 'opened' });
    const headers = { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'x-github-event': 'issues', 'x-github-hook-id': '292430182' };
    const repoHook = describeDelivery({ format: { scheme: 'github' }, body, headers });
    const orgHook = describeDelivery({ format: { scheme: 'github' }, body, headers: { ...headers, 'x-github-hook-id': '292430999' } });
    expect(repoHook).toMatchObject({ deliveryId: '292430182:72d3162e-cc78-11e3-81ab-4c9367dc0958', type: 'issues' });
    expect(orgHook).toMatchObject({ deliveryId: '292430999:72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    const { 'x-github-hook-id': _h, ...noHook } = headers;
    expect(describeDelivery({ format: { scheme: 'github' }, body, headers: noHook })).toMatchObject({ deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
  });

  it('slack: event_id and event.type; url_verification is reported with its challenge', () => {
    const event = json({ type: 'event_callback', event_id: 'Ev08MFMKH6', team_id: 'T1', event: { type: 'app_mention' } });
    expect(describeDelivery({ format: { scheme: 'slack', accountFrom: sel('body:team_id') }, body: event, headers: {} })).toMatchObject({
      kind: 'event',
      deliveryId: 'Ev08MFMKH6',
      type: 'app_mention',
      accountId: 'T1',
    });
    const challenge = json({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
    expect(describeDelivery({ format: { scheme: 'slack' }, body: challenge, headers: {} })).toEqual({
      ok: true,
      kind: 'url_verification',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
    });
    expect(describeDelivery({ format: { scheme: 'slack' }, body: json({ type: 'url_verification' }), headers: {} })).toMatchObject({
      ok: false,
      code: 'bad_body',
    });
    // Only Slack's handshake is one: another scheme's body of that shape is an ordinary event.
    expect(describeDelivery({ format: { scheme: 'standard-webhooks' }, body: challenge, headers: { 'webhook-id': 'm' } })).toMatchObject({ kind: 'event' });
  });

  it('shopify and jira: their id headers, and the type from a header or the body', () => {
    const body = json({ webhookEvent: 'jira:issue_created' });
    expect(
      describeDelivery({ format: { scheme: 'shopify' }, body, headers: { 'x-shopify-event-id': 'e1', 'x-shopify-topic': 'orders/create' } }),
    ).toMatchObject({
      deliveryId: 'e1',
      type: 'orders/create',
    });
    expect(describeDelivery({ format: { scheme: 'jira' }, body, headers: { 'x-atlassian-webhook-identifier': '1234' } })).toMatchObject({
      deliveryId: '1234',
      type: 'jira:issue_created',
    });
  });
});

describe('describeDelivery: selectors from config', () => {
  const format = webhooksSchema.parse({
    scheme: 'upagents',
    secrets: ['whsec_your_webhook_secret'],
    idFrom: 'body:task_id',
    eventIdFrom: 'body:data.event_id',
    typeFrom: 'body:status',
    accountFrom: 'query:account',
  });

  it('reads header:, body: (numbers too) and query: selectors', () => {
    const body = json({ task_id: 'task_abc123', status: 'completed', data: { event_id: 991 } });
    expect(describeDelivery({ format, body, headers: {}, url: '/webhooks/acme?account=acct%2042&x=1' })).toEqual({
      ok: true,
      kind: 'event',
      deliveryId: 'task_abc123',
      deliveryIdFrom: 'provider',
      eventId: '991',
      type: 'completed',
      accountId: 'acct 42',
      payload: { task_id: 'task_abc123', status: 'completed', data: { event_id: 991 } },
    });
  });

  it('without a delivery id, the id is a SHA-256 of the verified bytes, and says so', () => {
    const body = json({ status: 'completed' });
    const d = describeDelivery({ format, body, headers: {}, url: '/webhooks/acme' });
    expect(d).toMatchObject({ deliveryId: sha256(body), deliveryIdFrom: 'body_hash', type: 'completed' });
    expect(d).not.toHaveProperty('accountId');
    const other = describeDelivery({ format, body: json({ status: 'failed' }), headers: {} });
    expect(other).toMatchObject({ deliveryIdFrom: 'body_hash' });
    expect((other as { deliveryId: string }).deliveryId).not.toBe((d as { deliveryId: string }).deliveryId);
  });

  it("reads only JSON values that are the provider's own: objects, booleans and inherited names are no id", () => {
    const body = json({ task_id: { nested: true }, status: true, data: [] });
    const d = describeDelivery({ format: { scheme: 'upagents', idFrom: sel('body:toString'), typeFrom: sel('body:status') }, body, headers: {} });
    expect(d).toMatchObject({ deliveryIdFrom: 'body_hash' });
    expect(d).not.toHaveProperty('type');
    expect(
      describeDelivery({ format: { scheme: 'upagents', idFrom: sel('body:items.1.id') }, body: json({ items: [{ id: 'a' }, { id: 'b' }] }), headers: {} }),
    ).toMatchObject({
      deliveryId: 'b',
    });
  });

  it('a body that is not JSON is bad_body when a body: selector needs it, and fine when none does', () => {
    const form = Buffer.from('token=x&team_id=T1');
    expect(describeDelivery({ format, body: form, headers: {} })).toEqual({
      ok: false,
      code: 'bad_body',
      message: 'the body is not JSON or a form, so body:task_id cannot be read',
    });
    expect(describeDelivery({ format: { scheme: 'github' }, body: form, headers: { 'x-github-delivery': 'g', 'x-github-event': 'ping' } })).toMatchObject({
      ok: true,
      deliveryId: 'g',
      payload: undefined,
    });
    expect(describeDelivery({ format, body: Buffer.alloc(0), headers: {} })).toMatchObject({ ok: false, code: 'bad_body' });
  });
});

describe('verify, then describe: one delivery through both', () => {
  it('a Standard Webhooks delivery from its own signer, with config as written', async () => {
    const c = CASES[0]!;
    const config = webhooksSchema.parse({ scheme: 'standard-webhooks', secrets: [c.secrets[1], c.secrets[0]], accountFrom: 'body:account_id' });
    const text = JSON.stringify({ type: 'ticket.updated', account_id: 'acme-1', data: { id: 7 } });
    const headers = await c.sign(text, c.secrets[0], 1_767_225_600);
    const body = Buffer.from(text);
    expect(
      verifyDelivery({ scheme: config.scheme, body, headers, secrets: config.secrets, now: 1_767_225_600_000, toleranceSeconds: config.toleranceSeconds }),
    ).toEqual({
      ok: true,
      secretIndex: 1,
      timestamp: 1_767_225_600,
    });
    expect(describeDelivery({ format: config, body, headers })).toMatchObject({
      deliveryId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
      type: 'ticket.updated',
      accountId: 'acme-1',
    });
  });
});
