import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeRefusal } from './json.js';
import { closeIfBodyUnread } from './limits.js';
import type { RefusalLog } from './refusal-log.js';

/**
 * What is wrong with the request line or its framing headers, after putting an absolute-form
 * target in origin form; undefined when nothing is. RFC 9112 §3.2.2: a server must accept an
 * absolute URL as the target (a client configured with the hub as its proxy sends one) and then
 * use its authority, not the Host header, so the authority is what the Host check sees. A second
 * Host header is a 400 (§3.2); a second Authorization is refused too, since Node keeps only the
 * first and which one the client meant cannot be known.
 */
export function targetProblem(req: IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  if (url.charCodeAt(0) !== 0x2f && url !== '*') {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return `the request target ${JSON.stringify(url.slice(0, 100))} is neither a path nor an absolute URL`;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `the request target's scheme ${JSON.stringify(u.protocol)} is not http or https`;
    req.headers.host = u.host;
    req.url = `${u.pathname}${u.search}`;
  }
  const raw = req.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 13 && name.toLowerCase() === 'authorization') authorizations++;
  }
  if (hosts > 1) return `the request has ${hosts} Host headers; HTTP/1.1 allows one`;
  if (authorizations > 1) return `the request has ${authorizations} Authorization headers; send one`;
  return undefined;
}

/** Answers 400 `bad_request` for a request whose target or framing is wrong (targetProblem); true when it did. */
export function refusedTarget(req: IncomingMessage, res: ServerResponse, refusals?: RefusalLog): boolean {
  const problem = targetProblem(req);
  if (problem === undefined) return false;
  refusals?.('bad_request', { method: req.method, problem });
  closeIfBodyUnread(req, res);
  writeRefusal(req, res, 'bad_request', problem);
  return true;
}
