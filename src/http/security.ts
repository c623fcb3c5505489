import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { HubConfig } from '../config/schema.js';
import type { HubErrorCode } from '../errors.js';
import { writeRefusal } from './json.js';
import { closeIfBodyUnread } from './limits.js';
import type { RefusalLog } from './refusal-log.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The URLs a loopback `http` URL is also reached at (127.0.0.1, localhost, [::1] on its port), the
 * Host names the hub accepts there; any other URL is only itself. A client that connects to
 * `http://localhost:8787/mcp` checks that the resource metadata names that URL (RFC 9728 §3.3)
 * and asks for tokens for it (RFC 8707).
 */
export function loopbackAliases(url: string): string[] {
  const u = new URL(url);
  if (u.protocol !== 'http:' || !isLoopbackHost(u.hostname)) return [url];
  const port = u.port ? `:${u.port}` : '';
  return [...new Set([u.hostname, '127.0.0.1', 'localhost', '[::1]'])].map((h) => `http://${h}${port}${u.pathname}`);
}

export interface Exposure {
  /** Host header values (hostname[:port]) accepted; defends against DNS rebinding. */
  hosts: Set<string>;
  /** Browser origins accepted (exact scheme://host:port). Requests without Origin pass. */
  origins: Set<string>;
  /** Whether the face is reachable beyond this machine, so every route needs a token. */
  public: boolean;
}

/** Derives what the HTTP face accepts from the bind address, the public URL and the config lists. */
export function exposure(config: Pick<HubConfig, 'server'>, port: number): Exposure {
  const { host, publicUrl, internalUrl, allowedHosts, allowedOrigins } = config.server;
  const hosts = new Set<string>();
  // Compared as the guard compares a request's Origin: lower case, without a trailing slash.
  const origins = new Set<string>(allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  // A wildcard bind is reached by this machine's own names: its loopback names (a container's
  // published port: `localhost:8787` on the host) and its addresses. An IP literal or a loopback
  // name in Host cannot be a DNS-rebinding attacker's; a host name needs publicUrl or allowedHosts.
  const wildcard = host === '0.0.0.0' || host === '::';
  const names = isLoopbackHost(host.toLowerCase()) ? LOOPBACK_HOSTS : wildcard ? [...LOOPBACK_HOSTS, ...interfaceAddresses()] : [host.toLowerCase()];
  for (const n of names) {
    hosts.add(`${n}:${port}`);
    origins.add(`http://${n}:${port}`);
    // On port 80 clients leave the port out of Host (`curl http://localhost/mcp` sends
    // `localhost`), and browsers always leave the default port out of Origin (RFC 6454 §6.1).
    if (port === 80) {
      hosts.add(n);
      origins.add(`http://${n}`);
    }
  }
  if (publicUrl) {
    const u = new URL(publicUrl);
    hosts.add(u.host);
    origins.add(u.origin);
  }
  // Other replicas send retries to this address (src/replicas/forward.ts): no browser uses it.
  if (internalUrl) hosts.add(new URL(internalUrl).host);
  // Host names are case-insensitive (RFC 9110 §4.2.3) and the guard compares the Host header
  // lower-cased: a configured `Hub.Example.com` is kept as `hub.example.com`, or it never matches.
  for (const h of allowedHosts) hosts.add(h.toLowerCase());
  return { hosts, origins, public: !isLoopbackHost(host.toLowerCase()) };
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** This machine's interface addresses as a Host header names them (IPv6 in brackets), link-local ones aside. */
function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || (a.family === 'IPv6' && a.scopeid !== 0)) continue;
      out.push(a.family === 'IPv6' ? `[${a.address}]` : a.address);
    }
  }
  return out;
}

function reject(req: IncomingMessage, res: ServerResponse, code: HubErrorCode, message: string): void {
  closeIfBodyUnread(req, res);
  writeRefusal(req, res, code, message);
}

/** At most this much of a refused value goes into the log (a header may be kilobytes). */
const LOGGED_CHARS = 200;

/**
 * Host and Origin checks in front of every route. Per the MCP transport spec a server MUST
 * validate Origin to prevent DNS rebinding; Host is checked too because a rebound page sends
 * the attacker's hostname there. Each refusal is logged (rate-limited, see refusal-log.ts).
 */
export function hostAndOriginGuard(exp: Exposure, refusals?: RefusalLog) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const host = req.headers.host;
    // A load balancer's health check (HAProxy's `option httpchk`) is HTTP/1.0, where Host is
    // optional (RFC 1945); a browser always sends one, so no rebinding page gets through here.
    if (host === undefined && isHealthCheck(req)) {
      next();
      return;
    }
    if (host === undefined) {
      refusals?.('bad_request', { method: req.method, problem: 'no Host header' });
      reject(req, res, 'bad_request', 'the request has no Host header; HTTP/1.1 requires one');
      return;
    }
    if (!exp.hosts.has(host.toLowerCase())) {
      refusals?.('host_rejected', { method: req.method, host: host.slice(0, LOGGED_CHARS) });
      reject(req, res, 'host_rejected', `Host header ${JSON.stringify(host.slice(0, LOGGED_CHARS))} is not allowed`);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !exp.origins.has(origin.toLowerCase().replace(/\/$/, ''))) {
      refusals?.('origin_rejected', { method: req.method, origin: origin.slice(0, LOGGED_CHARS) });
      reject(req, res, 'origin_rejected', `Origin ${JSON.stringify(origin.slice(0, LOGGED_CHARS))} is not allowed`);
      return;
    }
    next();
  };
}

/**
 * Whether a request to a loopback-bound hub came from this machine itself rather than through a
 * reverse proxy on it (the README's nginx setup), which makes the hub reachable from anywhere:
 * its Host is a loopback name and it carries no forwarding header. What the hub tells only to
 * callers on its machine (the data dir, /readyz details) is told to no other.
 */
export function fromThisMachine(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['x-forwarded-for'] !== undefined || h['forwarded'] !== undefined || h['x-real-ip'] !== undefined) return false;
  const host = URL.parse(`http://${h.host ?? ''}`)?.hostname;
  return host !== undefined && isLoopbackHost(host);
}

/** An HTTP/1.0 GET or HEAD of /healthz or /readyz. */
function isHealthCheck(req: IncomingMessage): boolean {
  if (req.httpVersion !== '1.0' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const path = (req.url ?? '').split('?')[0];
  return path === '/healthz' || path === '/readyz';
}
