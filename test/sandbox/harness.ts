/**
 * Drives the sandbox provider over real HTTP on loopback, as a browser and an OAuth client would:
 * the consent form is fetched, parsed and posted with its cookie; redirects are read, not followed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expect } from 'vitest';
import { manualClock } from '../../src/clock.js';
import { createSandbox, type Sandbox, type SandboxClient, type SandboxOptions } from '../../servers/sandbox/index.js';

export const T0 = Date.UTC(2026, 3, 1, 12, 0, 0);
export const CLIENT: SandboxClient = { id: 'hub', secret: 'hub-secret', redirectUris: ['http://127.0.0.1:9/oauth/callback'], name: 'Switchboard' };
export const OTHER: SandboxClient = { id: 'other', secret: 'other-secret', redirectUris: ['http://127.0.0.1:9/other/callback?tenant=a'] };

/** Anything that serves the sandbox: an in-process harness or a spawned main.js. */
export interface Peer {
  issuer: string;
}

export interface Harness extends Peer {
  clock: ReturnType<typeof manualClock>;
  sandbox: Sandbox;
  close(): Promise<void>;
}

/** `front` mounts routes ahead of the provider, e.g. a fault injector or a request counter. */
export async function startSandbox(
  overrides: Partial<Omit<SandboxOptions, 'issuer' | 'clock'>> = {},
  front?: (app: express.Express) => void,
): Promise<Harness> {
  const app = express();
  front?.(app);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sandbox`;
  const clock = manualClock(T0);
  const sandbox = createSandbox({ issuer, clock, dbFile: ':memory:', clients: [CLIENT, OTHER], ...overrides });
  app.use('/sandbox', sandbox.router);
  return {
    issuer,
    clock,
    sandbox,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      sandbox.close();
    },
  };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(h: Peer, params: Record<string, string | undefined>): string {
  const url = new URL(`${h.issuer}/oauth/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

export interface Consent {
  html: string;
  interaction: string;
  /** `name=value` of the interaction cookie, as a browser would send it back. */
  cookie: string;
  response: Response;
}

/** GET /oauth/authorize and read the form a browser would show. */
export async function openConsent(h: Peer, params: Record<string, string | undefined>): Promise<Consent> {
  const response = await fetch(authorizeUrl(h, params), { redirect: 'manual' });
  const html = await response.text();
  expect(response.status, html).toBe(200);
  const interaction = /name="interaction" value="([^"]+)"/.exec(html)?.[1];
  const cookie = response.headers.getSetCookie()[0]?.split(';')[0];
  if (!interaction || !cookie) throw new Error('no consent form in the page');
  return { html, interaction, cookie, response };
}

export function submitConsent(
  h: Peer,
  c: Pick<Consent, 'interaction' | 'cookie'>,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${h.issuer}/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: c.cookie, ...headers },
    body: new URLSearchParams({ interaction: c.interaction, ...fields }),
  });
}

/** The whole front channel: consent as `username`, then the code from the redirect. */
export async function authorize(h: Peer, username: string, extra: Record<string, string> = {}, client: SandboxClient = CLIENT) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const params = {
    response_type: 'code',
    client_id: client.id,
    redirect_uri: client.redirectUris[0],
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  const consent = await openConsent(h, params);
  const res = await submitConsent(h, consent, { username, decision: 'allow' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.searchParams.get('state')).toBe(state);
  expect(location.searchParams.get('iss')).toBe(h.issuer);
  return { code: location.searchParams.get('code')!, verifier, state, redirectUri: client.redirectUris[0]! };
}

export interface TokenReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POST to a form endpoint with client_secret_basic (default) or client_secret_post. */
export async function postForm(
  url: string,
  params: Record<string, string>,
  auth: 'basic' | 'post' | 'none' = 'basic',
  client: SandboxClient = CLIENT,
): Promise<TokenReply> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams(params);
  if (auth === 'basic')
    headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  if (auth === 'post') {
    form.set('client_id', client.id);
    form.set('client_secret', client.secret);
  }
  const res = await fetch(url, { method: 'POST', headers, body: form });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export const token = (h: Peer, params: Record<string, string>, auth: 'basic' | 'post' | 'none' = 'basic', client: SandboxClient = CLIENT) =>
  postForm(`${h.issuer}/oauth/token`, params, auth, client);

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Links `username` through the whole flow and returns the first token pair. */
export async function link(h: Peer, username: string, extra: Record<string, string> = {}, client: SandboxClient = CLIENT): Promise<Tokens> {
  const a = await authorize(h, username, extra, client);
  const r = await token(h, { grant_type: 'authorization_code', code: a.code, redirect_uri: a.redirectUri, code_verifier: a.verifier }, 'basic', client);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as unknown as Tokens;
}

export function refresh(h: Peer, refreshToken: string, client: SandboxClient = CLIENT): Promise<TokenReply> {
  return token(h, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'basic', client);
}

/** A call to the tickets API with a bearer token (or none). */
export function api(h: Peer, method: string, path: string, accessToken: string | null, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (accessToken !== null) headers['authorization'] = `Bearer ${accessToken}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${h.issuer}/api${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
}
