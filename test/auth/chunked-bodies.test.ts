/**
 * A body sent chunked (no Content-Length) to the authorization server's endpoints is held to the
 * same cap as a declared one: over it, 413 with the declared case's error object, never the
 * library's 400 "failed to parse the request body"; within it, answered as if its length had
 * been declared, however many pieces it came in.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_BODY_LIMIT } from '../../src/auth/route-guard.js';
import { startHub, type RunningHub } from '../helpers/hub.js';
import { authorizeUrl, initialize, MemoryOAuthClient, pkce, REDIRECT, signIn } from './support.js';

let hub: RunningHub;
let base: string;
beforeAll(async () => {
  hub = await startHub();
  base = `http://127.0.0.1:${hub.port}`;
});
afterAll(() => hub?.stop());

interface Answer {
  status: number;
  connection: string | undefined;
  body: Record<string, unknown>;
}

/**
 * POSTs `pieces` chunked, each written once the one before has left (so they arrive as separate
 * chunks, not one). Writes after the answer (the hub stopped reading an oversized body) may fail.
 */
function chunkedPost(path: string, contentType: string, pieces: readonly string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: hub.port, method: 'POST', path, headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.flushHeaders();
    const write = (i: number): void => {
      if (answered || req.destroyed) return;
      if (i === pieces.length) return void req.end();
      req.write(pieces[i]!, () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

/** `text` cut into pieces of `size` characters (the last one shorter). */
function piecesOf(text: string, size: number): string[] {
  return Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
}

const FORM = 'application/x-www-form-urlencoded';
const overCap = { error: 'invalid_request', error_description: `the request body is over ${AS_BODY_LIMIT} bytes` };

describe('a chunked body over the cap', () => {
  it.each([
    ['/token', FORM, `grant_type=refresh_token&client_id=x&refresh_token=${'a'.repeat(100_000)}`],
    ['/register', 'application/json', JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'x'.repeat(100_000) })],
    ['/revoke', FORM, `client_id=x&token=${'a'.repeat(100_000)}`],
  ])('to %s gets 413 with the declared case’s error object, sent at once or in pieces', async (path, type, body) => {
    for (const pieces of [[body], piecesOf(body, 8192)]) {
      const answer = await chunkedPost(path, type, pieces);
      expect([path, pieces.length, answer.status, answer.body]).toEqual([path, pieces.length, 413, overCap]);
      expect(answer.connection).toBe('close');
    }
    // The same body declaring its length: the same answer.
    const declared = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
    expect([declared.status, await declared.json()]).toEqual([413, overCap]);
  });
});

describe('a chunked body within the cap', () => {
  it('registers a client, exchanges its code and refreshes its token, each body in pieces, and the token works at /mcp', async () => {
    const metadata = JSON.stringify(new MemoryOAuthClient('Chunked client').clientMetadata);
    const registered = await chunkedPost('/register', 'application/json', piecesOf(metadata, 40));
    expect(registered.status).toBe(201);
    const clientId = String(registered.body['client_id']);
    const p = pkce();
    const { callback } = await signIn(authorizeUrl(base, clientId, p), hub.token);
    const exchange = new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
      resource: `${base}/mcp`,
    }).toString();
    const tokens = await chunkedPost('/token', FORM, piecesOf(exchange, 16));
    expect(tokens.status).toBe(200);
    const ok = await initialize(hub.url, String(tokens.body['access_token']));
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    // Just under the cap, in one piece: the padding is a parameter the endpoint ignores.
    const refresh = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: String(tokens.body['refresh_token']) }).toString();
    const padded = `${refresh}&pad=${'p'.repeat(AS_BODY_LIMIT - refresh.length - 5)}`;
    expect(padded.length).toBe(AS_BODY_LIMIT);
    const refreshed = await chunkedPost('/token', FORM, [padded]);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body['access_token']).toEqual(expect.any(String));
  });

  it('an empty chunked body is the library’s to refuse, as an empty declared one is', async () => {
    const answer = await chunkedPost('/token', FORM, []);
    expect([answer.status, answer.body['error']]).toEqual([400, 'invalid_request']);
  });
});
