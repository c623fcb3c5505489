import type { RequestHandler } from 'express';
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { isLoopbackHost } from '../http/security.js';
import type { Logger } from '../observability/logger.js';
import type { RedisHandle } from '../store/redis/client.js';
import { LuaScript } from '../store/redis/eval.js';

export interface RegistrationLimitOptions {
  clock: Clock;
  /** Registrations one client IP may make per window. */
  perWindow?: number;
  /** The same for a caller on this machine (a loopback peer that no proxy speaks for). */
  localPerWindow?: number;
  windowMs?: number;
  /** Callers remembered at most; the oldest windows are dropped first. */
  maxTracked?: number;
  /** With `redis` in the config: the count every replica shares. Without it, or while it cannot be reached, this process's. */
  redis?: RedisHandle | undefined;
  log?: Logger | undefined;
}

/** A slot taken, given back when the request made no registration; or, refused, when the window ends. */
type Taken = { ok: true; release(): void } | { ok: false; retryAt: number };

/** Where the registrations per address and window are counted. */
interface Counts {
  take(ip: string, limit: number, now: number): Promise<Taken>;
}

/**
 * Dynamic Client Registration (RFC 7591) is open to anyone who can reach the hub, so each client
 * IP gets a few registrations per window (default 10 an hour): enough for a user trying several
 * clients, not for filling the store. Every client on the hub's own machine shares one loopback
 * address (mcp-remote, the Inspector, an SDK script, each signing in afresh while the user tries
 * them): those get 100. A request holds a slot while answered and keeps it only if it made a
 * registration (201). Answers 429 with `Retry-After` and an RFC 7591 §3.2.2-style body. With
 * Redis the count is shared, so N replicas allow what one does, not N times as much.
 */
export function registrationLimit(opts: RegistrationLimitOptions): RequestHandler {
  const remoteLimit = opts.perWindow ?? 10;
  const localLimit = opts.localPerWindow ?? 100;
  const windowMs = opts.windowMs ?? 3_600_000;
  const local = localCounts(windowMs, opts.maxTracked ?? 10_000);
  const counts = opts.redis ? redisCounts(opts.redis, windowMs, local, opts.log) : local;
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    const now = opts.clock.now();
    const ip = callerAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const perWindow = isLoopbackHost(ip.replace(/^::ffff:/, '')) ? localLimit : remoteLimit;
    counts.take(countedAs(ip), perWindow, now).then((taken) => {
      if (!taken.ok) {
        res
          .status(429)
          .set('Retry-After', String(Math.ceil((taken.retryAt - now) / 1000)))
          .json({
            error: 'too_many_requests',
            error_description: `at most ${perWindow} client registrations per ${windowMs / 60_000} minutes from one address`,
          });
        return;
      }
      // Only registrations made keep their slot: a malformed request (400) costs the store
      // nothing, and counting it let a few bad requests from a shared address (a proxy) block
      // everyone's clients. 'close' comes after 'finish', and alone when the caller went away
      // first: a 201 being sent then was still a registration made.
      res.once('close', () => {
        if (res.statusCode !== 201) taken.release();
      });
      next();
    }, next);
  };
}

/** A fixed window of counts per key in this process, the oldest keys dropped past `maxTracked`. */
export function fixedWindows(windowMs: number, maxTracked: number) {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    /** The key's window at `now` (a new one once the last ended), and its count so far. */
    at(key: string, now: number): { start: number; count: number } {
      let w = windows.get(key);
      if (w === undefined || now - w.start >= windowMs) {
        windows.delete(key);
        if (windows.size >= maxTracked) windows.delete(windows.keys().next().value!);
        w = { start: now, count: 0 };
        windows.set(key, w);
      }
      return w;
    },
  };
}

/**
 * This process's count: a window per address from its first registration. A request takes its
 * slot when admitted: counted only once answered, any number sent at once passed the check
 * before the first was counted.
 */
function localCounts(windowMs: number, maxTracked: number): Counts {
  const windows = fixedWindows(windowMs, maxTracked);
  return {
    async take(ip, limit, now) {
      const slot = windows.at(ip, now);
      if (slot.count >= limit) return { ok: false, retryAt: slot.start + windowMs };
      slot.count++;
      return {
        ok: true,
        release: () => {
          slot.count--;
        },
      };
    },
  };
}

/**
 * The same window in one Redis hash per address (s its start, c the slots taken), checked and
 * taken by one script, so requests at once on several replicas cannot all pass the check. A slot
 * given back is taken off only the window it was taken in (ARGV[4]). Times come from the callers'
 * clock, as the breakers' do (src/outbox/redis/breakers.ts): skew of a few ms moves an hour's
 * window by as much.
 *
 * ARGV: op (take | release), now, windowMs, limit or the window's start. Reply: {1, start} taken,
 * {0, start} refused.
 */
const WINDOW_SCRIPT = `
local now = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 's', 'c')
local s = tonumber(v[1])
local c = tonumber(v[2]) or 0
if ARGV[1] == 'release' then
  if s == tonumber(ARGV[4]) and c > 0 then redis.call('HINCRBY', KEYS[1], 'c', -1) end
  return {1, s or 0}
end
if s == nil or now - s >= win then s = now; c = 0 end
if c >= tonumber(ARGV[4]) then return {0, s} end
redis.call('HSET', KEYS[1], 's', s, 'c', c + 1)
redis.call('PEXPIRE', KEYS[1], math.max(1, s + win - now))
return {1, s}
`;

const reply = z.tuple([z.number(), z.number()]);

/** The count on Redis; this process's while Redis cannot be reached, said once per outage in the log. */
function redisCounts(redis: RedisHandle, windowMs: number, fallback: Counts, log: Logger | undefined): Counts {
  const script = new LuaScript(redis, WINDOW_SCRIPT, 'registration limit');
  let down = false;
  return {
    async take(ip, limit, now) {
      const key = redis.key('registrations', ip);
      let start: number;
      try {
        // Not connected: ioredis would hold the command through its reconnect attempts (seconds
        // each), and a sign-in must not wait on an outage the process count covers.
        if (redis.redis.status !== 'ready') throw new Error(`connection ${redis.redis.status}`);
        const [ok, s] = reply.parse(await script.run([key], ['take', now, windowMs, limit]));
        if (ok === 0) return { ok: false, retryAt: s + windowMs };
        start = s;
      } catch (err) {
        if (!down)
          log?.warn(
            { error: err instanceof Error ? err.message : String(err) },
            'Redis is not answering: client registrations are counted per process until it does',
          );
        down = true;
        return fallback.take(ip, limit, now);
      }
      if (down) log?.info('Redis answers again: client registrations are counted across replicas');
      down = false;
      return { ok: true, release: () => void script.run([key], ['release', now, windowMs, start]).catch(() => {}) };
    },
  };
}

/**
 * The address a registration is counted against. Behind a reverse proxy on this machine (the
 * peer is loopback) every caller would share the proxy's address, so one caller's registrations
 * used up everyone's: there the last `X-Forwarded-For` entry, the one that proxy added, names the
 * caller. From any other peer the header is the caller's own to forge and is ignored.
 */
export function callerAddress(peer: string | undefined, forwarded: string | string[] | undefined): string {
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',').at(-1)?.trim();
  const loopback = peer !== undefined && isLoopbackHost(peer.replace(/^::ffff:/, ''));
  return loopback && last ? last : (peer ?? 'unknown');
}

/**
 * What one caller's registrations are counted under: an IPv4 address as it is (an IPv4-mapped IPv6
 * one as its IPv4 address), an IPv6 address by its /64 prefix. A single host is handed a whole /64
 * (RFC 6177, SLAAC, every cloud VM) and picks any address in it: counted per address, it could
 * register without limit by changing the last 64 bits on each request.
 */
export function countedAs(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = plain.replace(/^::ffff:/i, '');
  if (isIPv4(mapped)) return mapped;
  if (!isIPv6(plain)) return address;
  const [head = '', tail] = plain.split('::');
  const groups = (part: string | undefined): string[] =>
    part === undefined || part === ''
      ? []
      : part.split(':').flatMap((g) => {
          // An embedded IPv4 tail (64:ff9b::192.0.2.1) is two groups.
          if (!g.includes('.')) return [g];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const first = groups(head);
  const last = groups(tail);
  const all = tail === undefined ? first : [...first, ...Array<string>(8 - first.length - last.length).fill('0'), ...last];
  return `${all
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
