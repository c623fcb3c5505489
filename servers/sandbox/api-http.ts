import type { ErrorRequestHandler, Response } from 'express';
import type { z } from 'zod';
import { clientFault } from './errors.js';

/** The API's error body: a stable code a client can switch on, and a message for people. */
export function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Parses a body or query with `schema`, or answers 400 invalid_request naming each bad field. */
export function parse<T>(schema: z.ZodType<T>, input: unknown, res: Response): T | undefined {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  fail(res, 400, 'invalid_request', r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '));
  return undefined;
}

/** The client's faults (an unreadable body, a bad path) in the API's own error form; anything else goes on to the 500 handler. */
export const apiErrors: ErrorRequestHandler = (err: unknown, _req, res, next) => {
  const fault = clientFault(err);
  if (!fault) return next(err);
  const code =
    fault.kind === 'json' ? 'invalid_json' : fault.kind === 'too_large' ? 'too_large' : fault.status === 415 ? 'unsupported_media_type' : 'invalid_request';
  fail(res, fault.status, code, fault.message);
};

/**
 * Cursors are opaque to clients; inside they carry a kind letter and a sequence number, so a
 * tickets cursor is not accepted by the events feed and the other way round.
 */
export const encodeCursor = (kind: 'a' | 'b', seq: number): string => Buffer.from(`${kind}:${seq}`).toString('base64url');
export function decodeCursor(kind: 'a' | 'b', cursor: string): number | null {
  const m = /^([ab]):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m && m[1] === kind ? Number(m[2]) : null;
}
