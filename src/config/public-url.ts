import { HubError } from '../errors.js';
import type { HubConfig } from './schema.js';

/** The URL a listener on host:port is reached at; a wildcard bind is reached on loopback. */
export function urlFor(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/**
 * Where clients and browsers reach the hub, without a trailing slash: `server.publicUrl`, else the
 * address a listener is bound at, else the configured host:port. Undefined when the port is 0 and
 * nothing is bound yet: the OS picks the port at listen(), so only the bound address can name it.
 */
export function publicUrlOf(server: HubConfig['server'], bound?: { host: string; port: number }): string | undefined {
  if (server.publicUrl !== undefined) return server.publicUrl.replace(/\/$/, '');
  if (bound !== undefined) return urlFor(bound.host, bound.port);
  return server.port === 0 ? undefined : urlFor(server.host, server.port);
}

/**
 * What the hub warns of once its listener is bound, as [log fields, message] pairs. Links, OAuth
 * redirects and the protected-resource metadata are built on the hub's URL:
 * - bound on every interface without `server.publicUrl`, that URL is loopback, which another
 *   machine cannot open (its browser opens itself; its OAuth client refuses metadata naming
 *   another resource than the URL it called);
 * - when links were already built on a URL read before the bind (`configured`) and the bind gave
 *   another, they point at the configured one (said only when there are accounts to link).
 */
export function boundUrlWarnings(
  server: HubConfig['server'],
  bound: { host: string; port: number },
  configured: string,
  linksMatter: boolean,
): Array<[Record<string, unknown>, string]> {
  const url = publicUrlOf(server, bound)!;
  const out: Array<[Record<string, unknown>, string]> = [];
  if (server.publicUrl === undefined && (bound.host === '0.0.0.0' || bound.host === '::'))
    out.push([
      { host: bound.host, url },
      'listening on every interface without server.publicUrl: links, OAuth redirects and metadata name loopback, which other machines cannot open; set server.publicUrl to the URL they reach the hub at',
    ]);
  // MCP's authorization spec wants the authorization server on HTTPS off loopback, and clients
  // (mcp-remote, the SDKs) refuse its token endpoint otherwise, after the user has signed in.
  if (offLoopbackHttp(url))
    out.push([
      { url },
      'the public URL is plain http off loopback: MCP clients refuse to sign in with an authorization server there (its token endpoint must be https), and codes and tokens would cross the network in clear; put the hub behind TLS and set server.publicUrl to its https:// URL',
    ]);
  if (configured !== url && linksMatter)
    out.push([{ configured, bound: url }, 'listening on another port than configured: account links point at the configured one']);
  return out;
}

/** Whether the hub's URL is known only once its listener is bound (port 0 and no `server.publicUrl`). */
export function urlAwaitsListen(server: HubConfig['server']): boolean {
  return publicUrlOf(server) === undefined;
}

/** What reading the URL of a hub on port 0 that has not bound its listener yet throws. */
export function urlNotYetKnown(): HubError {
  return new HubError(
    'config_invalid',
    'server.port is 0: the OS picks the port when the hub listens, so no link or OAuth redirect can name it before then; set server.publicUrl or a port (--port)',
  );
}

/** An http: URL whose host is not loopback (127.0.0.0/8, ::1, localhost). */
function offLoopbackHttp(url: string): boolean {
  const u = URL.parse(url);
  if (u === null || u.protocol !== 'http:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !(host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host));
}
