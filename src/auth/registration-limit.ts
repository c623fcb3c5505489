import type { RequestHandler } from 'express';
import type { Clock } from '../clock.js';
import { isLoopbackHost } from '../http/security.js';

export interface RegistrationLimitOptions {
  clock: Clock;
  /** Registrations one client IP may make per window. */
  perWindow?: number;
  /** The same for a caller on this machine (a loopback peer that no proxy speaks for). */
  localPerWindow?: number;
  windowMs?: number;
  /** Callers remembered at most; the oldest windows are dropped first. */
  maxTracked?: number;
}

/**
 * Dynamic Client Registration (RFC 7591) is open to anyone who can reach the hub, so each client
 * IP gets a few registrations per window (default 10 an hour): enough for a user trying several
 * clients, not for filling the store. Every client on the hub's own machine shares one loopback
 * address (mcp-remote, the Inspector, an SDK script, each signing in afresh while the user tries
 * them): those get 100. A request holds a slot while answered and keeps it only if it made a registration (201). Answers 429 with `Retry-After` and an RFC 7591 §3.2.2-style
 * body. In-process: a second replica counts separately (the planned Redis store would share it).
 */
export function registrationLimit(opts: RegistrationLimitOptions): RequestHandler {
  const remoteLimit = opts.perWindow ?? 10;
  const localLimit = opts.localPerWindow ?? 100;
  const windowMs = opts.windowMs ?? 3_600_000;
  const maxTracked = opts.maxTracked ?? 10_000;
  const windows = new Map<string, { start: number; count: number }>();
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    const now = opts.clock.now();
    const ip = callerAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const perWindow = isLoopbackHost(ip.replace(/^::ffff:/, '')) ? localLimit : remoteLimit;
    let w = windows.get(ip);
    if (w === undefined || now - w.start >= windowMs) {
      windows.delete(ip);
      if (windows.size >= maxTracked) windows.delete(windows.keys().next().value!);
      w = { start: now, count: 0 };
      windows.set(ip, w);
    }
    if (w.count >= perWindow) {
      res
        .status(429)
        .set('Retry-After', String(Math.ceil((w.start + windowMs - now) / 1000)))
        .json({ error: 'too_many_requests', error_description: `at most ${perWindow} client registrations per ${windowMs / 60_000} minutes from one address` });
      return;
    }
    // A request takes its slot when admitted: counted only once answered, any number sent at once
    // passed the check before the first was counted. Only registrations made keep theirs: a
    // malformed request (400) costs the store nothing, and counting it let a few bad requests from
    // a shared address (a proxy) block everyone's clients. 'close' comes after 'finish', and
    // alone when the caller went away first: a 201 being sent then was still a registration made.
    const slot = w;
    slot.count++;
    res.once('close', () => {
      if (res.statusCode !== 201) slot.count--;
    });
    next();
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
