/**
 * How the OAuth client reads what a token endpoint sends when the answer is not a clean one: an
 * answer that does not come, or stops halfway, is transient (worth retrying); an answer over the
 * size cap, or not JSON, is an unusable token response. The endpoint is a local HTTP server
 * scripted per request; where an answer never comes, the client's timeout is shortened so nothing
 * waits 15 s.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { MAX_TOKEN_RESPONSE_BYTES, OAuthClient, OAuthGrantError, OAuthTransientError } from '../../src/oauth/client.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

describe('what the client makes of a token endpoint that misbehaves', () => {
  let server: Server;
  let answer: Answer;
  /** Gives up after 150 ms, for the answers that never come; `client` keeps the default, so a loaded machine fails no other case. */
  let impatient: OAuthClient;
  let client: OAuthClient;
  const redeem = (c = client) => c.exchangeCode({ code: 'c0de-c0de', redirectUri: 'http://127.0.0.1/oauth/callback', codeVerifier: 'v'.repeat(43) });
  const refresh = (c = client) => c.refresh({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer' });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a rejection');
      },
      (err: unknown) => err,
    );

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.once('end', () => answer(req, res));
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const endpoints = { authorizeUrl: `${base}/authorize`, tokenUrl: `${base}/token`, clientId: 'hub', clientSecret: 's', scopes: [] };
    const clock = manualClock(Date.now());
    impatient = new OAuthClient(endpoints, clock, { timeout: 150 });
    client = new OAuthClient(endpoints, clock);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('no answer within the timeout is oauth_endpoint_unavailable, retryable', async () => {
    answer = () => {};
    const err = await failure(redeem(impatient));
    expect(err).toBeInstanceOf(OAuthTransientError);
    expect(err).toMatchObject({ code: 'oauth_endpoint_unavailable', status: undefined });
  });

  it('a 200 whose body stops coming, or is cut off by a dropped connection, is transient, not a refused grant', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"');
    };
    expect(await failure(redeem(impatient))).toMatchObject({ name: 'OAuthTransientError', code: 'oauth_endpoint_unavailable', status: undefined });
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"access_token":"${'x'.repeat(4096)}`, () => res.destroy());
    };
    const cut = await failure(refresh());
    expect(cut).toBeInstanceOf(OAuthTransientError);
    expect((cut as Error).message).toMatch(/^token endpoint stopped answering: /);
  });

  it('a 200 over the cap is invalid_token_response, on redemption and on refresh; a declared length is no way around it', async () => {
    const big = JSON.stringify({ access_token: 'y'.repeat(MAX_TOKEN_RESPONSE_BYTES), token_type: 'Bearer' });
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'application/json', 'content-length': String(big.length) }]) {
      answer = (_req, res) => void res.writeHead(200, headers).end(big);
      for (const call of [() => redeem(), () => refresh()]) {
        const err = await failure(call());
        expect(err).toBeInstanceOf(OAuthGrantError);
        expect(err).toMatchObject({ error: 'invalid_token_response', description: `the token response is over ${MAX_TOKEN_RESPONSE_BYTES} bytes` });
      }
    }
  });

  it('a 200 that is not JSON is invalid_token_response; a 5xx that is not JSON is still transient', async () => {
    answer = (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hello</p>');
    expect(await failure(redeem())).toMatchObject({ name: 'OAuthGrantError', error: 'invalid_token_response', status: 200 });
    answer = (_req, res) => void res.writeHead(502, { 'content-type': 'text/html' }).end('<p>bad gateway</p>');
    expect(await failure(redeem())).toMatchObject({ name: 'OAuthTransientError', status: 502 });
  });
});
