/**
 * Bad input to the sandbox is the client's fault and answered 4xx in the wire format of the route
 * (RFC 6749 errors on the OAuth endpoints, the API's and each marketplace's own JSON shape), never
 * 500; an error of the sandbox's own is logged without secrets and answered 500 with a JSON body.
 * The sandbox as the hub mounts it (createSandbox), over real HTTP on loopback.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxLog } from '../../servers/sandbox/index.js';
import { api, CLIENT, link, startSandbox, token, type Harness } from './harness.js';

const ENCODING = 'a path segment is not valid percent-encoding';
const V1 = { authorization: 'Bearer ua_sandbox_local', 'content-type': 'application/json' };
const KORE = { authorization: 'Bearer kore_sandbox_local', 'content-type': 'application/json' };
const HTTP = { 'x-api-key': 'http_sandbox_local', 'content-type': 'application/json' };
const KORE_BODY = JSON.stringify({ sessionIdentity: [{ type: 'sessionReference', value: 's' }], input: [{ type: 'text', content: 'x' }] });

async function post(url: string, headers: Record<string, string>, body: string | Uint8Array<ArrayBuffer> = '{}'): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { method: 'POST', headers, body });
  return { status: r.status, body: await r.json() };
}

describe('bad input to the sandbox', () => {
  let h: Harness;
  const logged: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const log: SandboxLog = { error: (fields, message) => void logged.push({ fields, message }) };
  beforeAll(async () => {
    h = await startSandbox({ log });
  });
  afterAll(async () => {
    await h.close();
  });

  it('a path parameter that is not valid percent-encoding is a 400 in the shape of its route', async () => {
    expect(await post(`${h.issuer}/marketplace/v1/agents/%zz/tasks`, V1)).toEqual({
      status: 400,
      body: { error: { type: 'invalid_input', message: ENCODING } },
    });
    expect(await post(`${h.issuer}/marketplace/v1/_callbacks/%zz/release`, V1)).toEqual({
      status: 400,
      body: { error: { type: 'invalid_input', message: ENCODING } },
    });
    expect(await post(`${h.issuer}/marketplace/kore/agents/%zz`, KORE, KORE_BODY)).toEqual({ status: 400, body: { error: { message: ENCODING } } });
    expect(await post(`${h.issuer}/marketplace/http/v1/forecast/%zz`, HTTP)).toEqual({ status: 400, body: { error: ENCODING } });
    const { access_token } = await link(h, 'alice');
    const ticket = await api(h, 'GET', '/tickets/%zz', access_token);
    expect({ status: ticket.status, body: await ticket.json() }).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: ENCODING } } });
  });

  it('the OAuth endpoints answer a body in an unknown charset or a broken content-encoding with RFC 6749 invalid_request', async () => {
    for (const path of ['/oauth/token', '/oauth/authorize', '/oauth/revoke']) {
      const url = `${h.issuer}${path}`;
      const charset = await post(url, { 'content-type': 'application/x-www-form-urlencoded; charset=bogus' }, 'a=b');
      expect(charset, path).toEqual({ status: 415, body: { error: 'invalid_request', error_description: 'the body must be UTF-8' } });
      const notGzip = await post(url, { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, 'a=b');
      expect(notGzip, path).toEqual({
        status: 400,
        body: { error: 'invalid_request', error_description: 'the body could not be read (a bad content-encoding or an aborted request)' },
      });
      const unknown = await post(url, { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'compress' }, 'a=b');
      expect(unknown.status, path).toBe(415);
      expect(unknown.body).toMatchObject({ error: 'invalid_request' });
    }
    // A body that really is gzip is read: the token endpoint then speaks of the form, not the encoding.
    const gzipped = await post(
      `${h.issuer}/oauth/token`,
      { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      new Uint8Array(gzipSync(`grant_type=password&client_id=${CLIENT.id}&client_secret=${CLIENT.secret}`)),
    );
    expect(gzipped).toEqual({ status: 400, body: { error: 'unsupported_grant_type', error_description: 'grant_type password is not supported' } });
  });

  it('the API answers a JSON body in an unknown charset with 415 unsupported_media_type', async () => {
    const { access_token } = await link(h, 'bob');
    const r = await fetch(`${h.issuer}/api/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json; charset=bogus' },
      body: '{"title":"x"}',
    });
    expect({ status: r.status, body: await r.json() }).toEqual({
      status: 415,
      body: { error: { code: 'unsupported_media_type', message: 'the body must be UTF-8' } },
    });
  });

  it('a failure-injection value out of range or not a whole number is a 400 naming the knob, on every marketplace', async () => {
    const cases: Array<[string, unknown]> = [
      ['fail=1000', 'failure injection fail: must be a whole number from 400 to 599'],
      ['fail=400.5', 'failure injection fail: must be a whole number from 400 to 599'],
      ['fail=1e3', 'failure injection fail: must be a whole number from 400 to 599'],
      ['fail=503+retry-after=%0d%0aX:1', 'failure injection retry-after: must be seconds (0-86400) or an HTTP-date'],
      ['latency-ms=-1', 'failure injection latency-ms: must be a whole number from 0 to 60000'],
      ['token-ms=99999', 'failure injection token-ms: must be a whole number from 0 to 5000'],
      ['fail-times=x', 'failure injection fail-times: must be a whole number from 0 to 1000'],
      ['output=weird', expect.stringMatching(/^failure injection output: /)],
      ['nonsense=1', 'unknown failure injection +nonsense'],
    ];
    for (const [spec, message] of cases) {
      expect(await post(`${h.issuer}/marketplace/v1/agents/echo_v1+${spec}/tasks`, V1, '{"input":{}}'), spec).toEqual({
        status: 400,
        body: { error: { type: 'invalid_input', message } },
      });
      expect(await post(`${h.issuer}/marketplace/kore/agents/memory_v1+${spec}`, KORE, KORE_BODY), spec).toEqual({ status: 400, body: { error: { message } } });
      expect(await post(`${h.issuer}/marketplace/http/v1/forecast+${spec}/Oslo`, HTTP, '{"question":"q"}'), spec).toEqual({
        status: 400,
        body: { error: message },
      });
    }
    // By header the same: a value no platform would send is refused, not passed to Number().
    const byHeader = await post(`${h.issuer}/marketplace/v1/agents/echo_v1/tasks`, { ...V1, 'x-sandbox-fail': '5e2' }, '{"input":{}}');
    expect(byHeader.status).toBe(400);
    // In range, the injection still works, an HTTP-date Retry-After included.
    const date = 'Wed, 21 Oct 2026 07:28:00 GMT';
    const injected = await fetch(`${h.issuer}/marketplace/v1/agents/echo_v1+fail=503/tasks`, {
      method: 'POST',
      headers: { ...V1, 'x-sandbox-retry-after': date },
      body: '{"input":{}}',
    });
    expect(injected.status).toBe(503);
    expect(injected.headers.get('retry-after')).toBe(date);
  });

  it("an error of the sandbox's own is logged without secrets and answered 500 with a JSON body", async () => {
    const { access_token, refresh_token } = await link(h, 'carol');
    // The store closed under the routes: every query now throws, as a broken disk would make it.
    h.sandbox.close();
    const r = await token(h, { grant_type: 'refresh_token', refresh_token }, 'post');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: 'server_error', error_description: 'internal error' });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      message: 'sandbox: unexpected error',
      fields: { method: 'POST', path: '/sandbox/oauth/token', err: { name: 'TypeError', message: expect.stringContaining('not open') } },
    });
    const text = JSON.stringify(logged);
    for (const secret of [CLIENT.secret, refresh_token, access_token]) expect(text).not.toContain(secret);
  });
});
