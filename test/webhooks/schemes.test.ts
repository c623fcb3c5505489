import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SCHEME_FACTS, type WebhookScheme, webhooksSchema } from '../../src/definition/webhooks.js';
import { verifyDelivery } from '../../src/webhooks/schemes/index.js';
import { CASES, macIn, SIGNS_TIMESTAMP, withTimestamp } from './schemes-signers.js';

const NOW_S = 1_767_225_600; // 2026-01-01T00:00:00Z
const NOW = NOW_S * 1000;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BODY = '{"id":"evt_1","type":"ticket.updated","data":{"ticket":42,"title":"Caf\u00e9 \u2603"}}';

function verify(scheme: WebhookScheme, body: string | Buffer, headers: IncomingHttpHeaders, secrets: string[], now = NOW, toleranceSeconds?: number) {
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return verifyDelivery({ scheme, body: raw, headers, secrets, now, ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }) });
}

/**
 * Known-answer vectors computed outside this code base. Each was checked once with
 * `printf '%s' "<signed bytes>" | openssl dgst -sha256 -hmac '<secret>' [-binary | base64]`
 * (for Standard Webhooks, `-mac HMAC -macopt hexkey:<base64-decoded key>`).
 */
const VECTORS: { name: string; scheme: WebhookScheme; secret: string; body: string | Buffer; headers: Record<string, string>; now: number }[] = [
  {
    // The example in the Standard Webhooks spec (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md).
    name: 'Standard Webhooks spec example',
    scheme: 'standard-webhooks',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    body: '{"test": 2432232314}',
    headers: {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    },
    now: 1614265330_000,
  },
  {
    // The worked example of api.slack.com/authentication/verifying-requests-from-slack (a slash command, form-encoded).
    name: "Slack's documented example",
    scheme: 'slack',
    secret: '8f742231b10e8888abcd99yyyzzz85a5',
    body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
    headers: { 'x-slack-request-timestamp': '1531420618', 'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503' },
    now: 1531420618_000,
  },
  {
    // shopify.dev "Verify webhooks": base64 HMAC-SHA256 of the raw body, keyed with the app's client secret.
    name: 'Shopify, openssl',
    scheme: 'shopify',
    secret: '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',
    body: '{"id":820982911946154508,"email":"jon@example.com","topic":"orders/create"}',
    headers: { 'x-shopify-hmac-sha256': 'myDQ4Is8qXBhrQt7rgExu4P8iX+TNZTrWabs5eqHgao=' },
    now: NOW,
  },
  {
    // Atlassian "Webhooks" (secure admin webhooks): X-Hub-Signature: sha256=<hex HMAC of the body>.
    name: 'Jira, openssl',
    scheme: 'jira',
    secret: 'jira-webhook-secret-4f1b2c',
    body: '{"timestamp":1700000000000,"webhookEvent":"jira:issue_updated","issue":{"id":"10002","key":"SB-2"}}',
    headers: { 'x-hub-signature': 'sha256=0fe4eefc20b5b95680ee7cbad44b782648dbb8b886c3d1e6ac3b971c1c66b156' },
    now: NOW,
  },
  {
    // Seed 000's verify_webhook: hex HMAC of f"{timestamp}.{body}" with the secret's bytes as the key.
    name: 'upagents, openssl',
    scheme: 'upagents',
    secret: 'whsec_your_webhook_secret',
    body: '{"task_id":"task_abc123","status":"completed","output":{"summary":"ok"}}',
    headers: { 'x-webhook-timestamp': '1700000000', 'x-webhook-signature': 'dd09a1e78879034c0fb832f4e0e669bf0dcf963eea753979b4427ccd2dbe5d46' },
    now: 1700000000_000,
  },
  {
    // Bytes that are not UTF-8 (printf '\xff\xfe\x00\x7b\x80'): what is verified is the bytes, never a decoded string.
    name: 'GitHub over a body that is not UTF-8, openssl',
    scheme: 'github',
    secret: 'gh-hook-secret-2',
    body: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]),
    headers: { 'x-hub-signature-256': 'sha256=d21a765f5de786932f892d4f5c7524a7b492f220368f3ac427437c689287a1a5' },
    now: NOW,
  },
  {
    name: 'upagents over a body that is not UTF-8, openssl',
    scheme: 'upagents',
    secret: 'whsec_your_webhook_secret',
    body: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]),
    headers: { 'x-webhook-timestamp': '1700000000', 'x-webhook-signature': '3cc8f014c2cadd344164e6e9ef380a78be9767c7f6ade6d1b488323167d3eb3c' },
    now: 1700000000_000,
  },
];

describe('known-answer vectors', () => {
  it.each(VECTORS)('$name verifies, and not with another secret', (v) => {
    expect(verify(v.scheme, v.body, v.headers, [v.secret], v.now)).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verify(v.scheme, v.body, v.headers, [`${v.secret}x`], v.now)).toMatchObject({ ok: false, code: 'bad_signature' });
  });
});

describe.each(CASES)('$scheme', (c) => {
  const [secret, other] = c.secrets;
  const signed = (body = BODY, s = secret, seconds = NOW_S) => c.sign(body, s, seconds);
  const swapMac = (headers: Record<string, string>, mac: string) => ({
    ...headers,
    [c.signatureHeader]: headers[c.signatureHeader]!.replace(macIn(headers[c.signatureHeader]!, c.encoding), mac),
  });

  it('accepts a delivery signed by the provider, with the timestamp it signed', async () => {
    const verdict = verify(c.scheme, BODY, await signed(), [secret]);
    expect(verdict).toEqual(SIGNS_TIMESTAMP.has(c.scheme) ? { ok: true, secretIndex: 0, timestamp: NOW_S } : { ok: true, secretIndex: 0 });
    expect(SCHEME_FACTS[c.scheme].signsTimestamp).toBe(SIGNS_TIMESTAMP.has(c.scheme));
  });

  it('rotation: a second active secret verifies; once removed, its deliveries are refused', async () => {
    const byNew = await signed(BODY, other);
    expect(verify(c.scheme, BODY, byNew, [secret, other])).toMatchObject({ ok: true, secretIndex: 1 });
    expect(verify(c.scheme, BODY, await signed(), [secret, other])).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verify(c.scheme, BODY, await signed(), [other])).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses a changed body, signature or secret', async () => {
    const headers = await signed();
    expect(verify(c.scheme, `${BODY} `, headers, [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verify(c.scheme, BODY.replace('42', '43'), headers, [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
    const mac = macIn(headers[c.signatureHeader]!, c.encoding);
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'a' ? 'b' : 'a'}${mac.slice(11)}`;
    expect(verify(c.scheme, BODY, swapMac(headers, flipped), [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verify(c.scheme, BODY, headers, [`${secret}1`])).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verify(c.scheme, BODY, headers, [])).toMatchObject({ ok: false, code: 'bad_signature', message: 'no webhook secret is configured to verify with' });
  });

  it('refuses a signature of the wrong length or encoding, without throwing', async () => {
    const headers = await signed();
    const mac = macIn(headers[c.signatureHeader]!, c.encoding);
    const bytes = Buffer.from(mac, c.encoding);
    const variants = [
      mac.slice(0, -2),
      `${mac}00`,
      'x',
      // The right MAC in the other encoding, and in non-canonical spellings of its own.
      c.encoding === 'hex' ? bytes.toString('base64') : bytes.toString('hex'),
      c.encoding === 'hex' ? mac.toUpperCase() : bytes.toString('base64url'),
      // Base64's 43rd character has two spare bits: flipping one spells the same bytes differently.
      c.encoding === 'hex' ? `${mac.slice(0, -1)}g` : `${mac.slice(0, 42)}${B64[B64.indexOf(mac[42]!) ^ 1]}=`,
      c.encoding === 'hex' ? `${mac} ` : mac.slice(0, -1),
    ];
    for (const v of variants) {
      expect(verify(c.scheme, BODY, swapMac(headers, v), [secret]), JSON.stringify(v)).toMatchObject({ ok: false, code: 'bad_signature' });
    }
  });

  it('refuses a delivery without each header the scheme needs', async () => {
    const headers = await signed();
    for (const name of c.required) {
      const { [name]: _gone, ...rest } = headers;
      expect(verify(c.scheme, BODY, rest, [secret]), name).toMatchObject({ ok: false, code: 'missing_header' });
      expect(verify(c.scheme, BODY, { ...headers, [name]: '' }, [secret]), name).toMatchObject({ ok: false, code: 'missing_header' });
    }
  });

  // Only the schemes that sign a timestamp have a window (github, shopify and jira sign none).
  if (SIGNS_TIMESTAMP.has(c.scheme))
    it('refuses a changed, stale, future or malformed timestamp; accepts the window edges', async () => {
      const headers = await signed();
      expect(verify(c.scheme, BODY, withTimestamp(c, headers, String(NOW_S + 1)), [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
      expect(verify(c.scheme, BODY, withTimestamp(c, headers, `0${NOW_S}`), [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
      expect(verify(c.scheme, BODY, headers, [secret], NOW + 300_999)).toMatchObject({ ok: true });
      expect(verify(c.scheme, BODY, headers, [secret], NOW + 301_000)).toMatchObject({ ok: false, code: 'stale_timestamp' });
      expect(verify(c.scheme, BODY, headers, [secret], NOW - 300_000)).toMatchObject({ ok: true });
      expect(verify(c.scheme, BODY, headers, [secret], NOW - 301_000)).toMatchObject({ ok: false, code: 'stale_timestamp' });
      expect(verify(c.scheme, BODY, headers, [secret], NOW + 61_000, 60)).toMatchObject({ ok: false, code: 'stale_timestamp' });
      // Milliseconds where seconds belong read as a time far ahead, and the signature still has to match.
      const inMs = await signed(BODY, secret, NOW);
      expect(verify(c.scheme, BODY, inMs, [secret])).toMatchObject({ ok: false, code: 'stale_timestamp' });
      for (const bad of ['soon', '1.5e9', '-1767225600', '1767225600.5', ' 1767225600']) {
        expect(verify(c.scheme, BODY, withTimestamp(c, headers, bad), [secret]), bad).toMatchObject({ ok: false, code: 'bad_timestamp' });
      }
    });

  it('never reports stale_timestamp for a forged delivery: the signature comes first', async () => {
    const old = await signed(BODY, other, NOW_S - 3600);
    expect(verify(c.scheme, BODY, old, [secret])).toMatchObject({ ok: false, code: 'bad_signature' });
  });
});

describe('scheme details', () => {
  it('Stripe: any v1 of several verifies (Stripe signs with each secret while one rolls); v0 and unknown keys are ignored', async () => {
    const [a, b] = ['whsec_old_secret_aaaaaaaaaaaaaaaa', 'whsec_new_secret_bbbbbbbbbbbbbbbb'];
    const sigA = (await CASES[1]!.sign(BODY, a, NOW_S))['stripe-signature']!;
    const sigB = (await CASES[1]!.sign(BODY, b, NOW_S))['stripe-signature']!;
    const header = `${sigA},${sigB.replace(/^t=\d+,/, '')},v0=${'0'.repeat(64)},v2=later`;
    expect(verify('stripe', BODY, { 'stripe-signature': `${sigB},v1=zz` }, [b])).toMatchObject({ code: 'bad_signature' });
    expect(verify('stripe', BODY, { 'stripe-signature': header }, [b])).toMatchObject({ ok: true, secretIndex: 0 });
    expect(verify('stripe', BODY, { 'stripe-signature': `t=${NOW_S},t=${NOW_S},v1=${'0'.repeat(64)}` }, [b])).toMatchObject({ code: 'bad_timestamp' });
    expect(verify('stripe', BODY, { 'stripe-signature': `v1=${'0'.repeat(64)}` }, [b])).toMatchObject({ code: 'bad_timestamp' });
    expect(verify('stripe', BODY, { 'stripe-signature': `t=${NOW_S}` }, [b])).toMatchObject({ code: 'bad_signature' });
    expect(verify('stripe', BODY, { 'stripe-signature': `${sigB},` }, [b])).toMatchObject({ code: 'bad_signature' });
  });

  it('Standard Webhooks: any v1 in the list verifies; v1a (asymmetric) entries are skipped; a malformed list is refused', async () => {
    const c = CASES[0]!;
    const good = await c.sign(BODY, c.secrets[0], NOW_S);
    const other = (await c.sign(BODY, c.secrets[1], NOW_S))['webhook-signature'];
    const list = `v1a,${'A'.repeat(86)}== ${other} ${good['webhook-signature']}`;
    expect(verify(c.scheme, BODY, { ...good, 'webhook-signature': list }, [c.secrets[0]])).toMatchObject({ ok: true });
    // A malformed v1 beside a genuine one spoils the header: nothing may be glued to a signature.
    const glued = `v1,${'B'.repeat(43)}= ${good['webhook-signature']}`;
    expect(verify(c.scheme, BODY, { ...good, 'webhook-signature': glued }, [c.secrets[0]])).toMatchObject({ code: 'bad_signature' });
    expect(verify(c.scheme, BODY, { ...good, 'webhook-signature': `v1a,${'A'.repeat(86)}==` }, [c.secrets[0]])).toMatchObject({ code: 'bad_signature' });
    expect(verify(c.scheme, BODY, { ...good, 'webhook-signature': `${good['webhook-signature']} ` }, [c.secrets[0]])).toMatchObject({ code: 'bad_signature' });
    // The key is the base64 after whsec_; the same key without the prefix verifies too.
    expect(verify(c.scheme, BODY, good, [c.secrets[0].slice('whsec_'.length)])).toMatchObject({ ok: true });
    expect(verify(c.scheme, BODY, good, ['whsec_not base64!', c.secrets[0]])).toMatchObject({ ok: true, secretIndex: 1 });
  });

  it('Jira and GitHub: the method prefix is read, and only sha256 is accepted', async () => {
    const jira = (await CASES[5]!.sign(BODY, 'sec', NOW_S))['x-hub-signature']!;
    expect(verify('jira', BODY, { 'x-hub-signature': jira }, ['sec'])).toMatchObject({ ok: true });
    for (const header of [
      jira.replace('sha256=', 'sha1='),
      jira.replace('sha256=', 'SHA256='),
      jira.replace('sha256=', ''),
      jira.replace('sha256=', 'sha256:'),
    ]) {
      expect(verify('jira', BODY, { 'x-hub-signature': header }, ['sec']), header).toMatchObject({ ok: false, code: 'bad_signature' });
      expect(verify('github', BODY, { 'x-hub-signature-256': header }, ['sec']), header).toMatchObject({ ok: false, code: 'bad_signature' });
    }
    // GitHub's legacy SHA-1 header alone is not enough.
    expect(verify('github', BODY, { 'x-hub-signature': jira }, ['sec'])).toMatchObject({ ok: false, code: 'missing_header' });
  });

  it('a repeated header is read as Node joins it, and a signed header no wire could carry is refused', async () => {
    const c = CASES[2]!;
    const { 'x-hub-signature-256': sig } = await c.sign(BODY, 'sec', NOW_S);
    expect(verify('github', BODY, { 'x-hub-signature-256': [sig!] }, ['sec'])).toMatchObject({ ok: true });
    expect(verify('github', BODY, { 'x-hub-signature-256': [sig!, sig!] }, ['sec'])).toMatchObject({ ok: false, code: 'bad_signature' });
    const sw = await CASES[0]!.sign(BODY, CASES[0]!.secrets[0], NOW_S);
    expect(verify('standard-webhooks', BODY, { ...sw, 'webhook-id': 'msg_\u2603' }, [CASES[0]!.secrets[0]])).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
  });
});

describe('the upagents scheme and its old name', () => {
  it('config written with scheme hmac-sha256 loads as upagents', () => {
    const parsed = webhooksSchema.parse({ scheme: 'hmac-sha256', secrets: ['whsec_your_webhook_secret'], idFrom: 'body:task_id' });
    expect(parsed.scheme).toBe('upagents');
    expect(parsed.toleranceSeconds).toBe(300);
    expect(webhooksSchema.safeParse({ scheme: 'hmac-sha1', secrets: ['s'], idFrom: 'body:task_id' }).success).toBe(false);
  });
});
