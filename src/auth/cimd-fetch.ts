import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction, type Socket } from 'node:net';
import { Readable } from 'node:stream';

/**
 * Addresses a client's metadata document may not be fetched from: the hub must not be a way to
 * reach its own machine or network (SSRF). IANA special-purpose ranges that route nowhere public:
 * this network, private (RFC 1918, ULA), shared (CGNAT), link-local, loopback, documentation,
 * benchmarking, multicast and reserved.
 */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  SPECIAL.addSubnet(net, bits, 'ipv6');

/** Whether the hub may fetch a metadata document from this address. */
export function addressAllowed(address: string, allowLoopback: boolean): boolean {
  let ip = address;
  // An IPv4-mapped IPv6 address is the IPv4 address (::ffff:10.0.0.1 is private).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  const family = isIP(ip) === 4 ? 'ipv4' : isIP(ip) === 6 ? 'ipv6' : undefined;
  if (family === undefined) return false;
  if (allowLoopback && LOOPBACK.check(ip, family)) return true;
  return !SPECIAL.check(ip, family);
}

export interface GuardedFetchOptions {
  allowLoopback: boolean;
  /** Trusted CA certificates (PEM) beside the system's: a test's own HTTPS server. */
  ca?: string | undefined;
  /** Largest document accepted; the library caps it at 5 KiB too. */
  maxBytes?: number;
}

class Refused extends Error {}

/**
 * The `fetch` oidc-provider uses for Client ID Metadata Documents: HTTPS only, no redirects
 * followed (the library refuses any status but 200), the library's 2.5 s timeout signal, a size
 * cap, and the SSRF guard applied twice: to every address the name resolves to, and to the
 * address the socket actually connected to, so a name that resolves differently the second time
 * (DNS rebinding) is still refused before the request is sent.
 */
export function guardedFetch(opts: GuardedFetchOptions): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      const bad = addresses.find((a) => !addressAllowed(a.address, opts.allowLoopback));
      if (bad !== undefined || addresses.length === 0) return callback(new Refused(`${hostname} resolves to a special-use address`), '', 4);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') return reject(new Refused('metadata documents are fetched over HTTPS only'));
      const literal = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(literal) && !addressAllowed(literal, opts.allowLoopback)) return reject(new Refused(`${literal} is a special-use address`));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const req = request(url, {
        method: 'GET',
        headers,
        lookup,
        // A fresh connection per fetch: each is checked where it connected (documents are cached anyway).
        agent: false,
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(init.signal ? { signal: init.signal } : {}),
      });
      req.once('socket', (socket: Socket) => {
        socket.once('connect', () => {
          const at = socket.remoteAddress;
          if (at === undefined || !addressAllowed(at, opts.allowLoopback)) req.destroy(new Refused('connected to a special-use address'));
        });
      });
      req.once('error', reject);
      req.once('response', (res) => {
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > maxBytes) {
          res.destroy();
          return reject(new Refused('metadata document too large'));
        }
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > maxBytes) res.destroy(new Refused('metadata document too large'));
        });
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 502;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status: status < 200 || status > 599 ? 502 : status, headers: h }));
      });
      req.end();
    });
}

/** How long a fetched document (or the failure to fetch it) answers the same URL again. */
const RECENT_MS = 5_000;
const RECENT_MAX = 100;

type Fetched = { status: number; headers: [string, string][]; body: Uint8Array | null };

/**
 * `fetch` answering a URL fetched in the last few seconds from that fetch, whether it succeeded
 * or failed. The library fetches a document it then refuses a second time within the same
 * authorization request (its error handler looks the client up again): a slow or refused document
 * cost the user twice the wait (5 s against the 2.5 s limit), and its server two requests. A
 * document it accepts is cached by the library itself, as its Cache-Control says.
 */
export function recentlyFetched(
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>,
  now: () => number = () => performance.now(),
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const recent = new Map<string, { at: number; fetched: Promise<Fetched> }>();
  return async (input, init) => {
    const key = String(input);
    const t = now();
    let hit = recent.get(key);
    if (hit === undefined || t - hit.at > RECENT_MS) {
      for (const [k, v] of recent) if (t - v.at > RECENT_MS || recent.size >= RECENT_MAX) recent.delete(k);
      const fetched = fetch(input, init).then(async (res) => ({
        status: res.status,
        headers: [...res.headers.entries()],
        body: res.body === null ? null : new Uint8Array(await res.arrayBuffer()),
      }));
      hit = { at: t, fetched };
      recent.set(key, hit);
    }
    const f = await hit.fetched;
    return new Response(f.body === null ? null : f.body.slice(), { status: f.status, headers: f.headers });
  };
}
