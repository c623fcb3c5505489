import express, { type RequestHandler } from 'express';
import { refuseDeclaredOversize } from './limits.js';

/**
 * An HTML form's body (`application/x-www-form-urlencoded`) of at most `limit` bytes. One declared
 * larger is refused before any of it is read: body-parser's own check reports only once the body
 * has ended, so a client that declared megabytes and sent nothing held the connection until the
 * body deadline (408), and one that sent them had them all read and dropped first.
 */
export function formBody(limit: number): RequestHandler {
  const oversize = refuseDeclaredOversize(limit);
  const parse = express.urlencoded({ extended: false, limit });
  return (req, res, next) => oversize(req, res, (err) => (err === undefined ? parse(req, res, next) : next(err)));
}
