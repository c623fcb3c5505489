import type { Request } from 'express';
import { OAuthError, type Form } from './oauth-http.js';
import { safeEqual } from './secrets.js';

export interface SandboxClient {
  id: string;
  secret: string;
  /** Compared by exact string match (RFC 9700 §4.1.3 forbids pattern matching). */
  redirectUris: string[];
  /** Shown on the consent page; defaults to the id. */
  name?: string | undefined;
}

/**
 * Authenticates a confidential client by HTTP Basic or by body parameters (RFC 6749 §2.3.1).
 * Only one method per request is allowed (§2.3), and every failure looks the same to the caller.
 */
export function authenticateClient(req: Request, form: Form, clients: ReadonlyMap<string, SandboxClient>): SandboxClient {
  const header = req.get('authorization');
  const bodyId = form.get('client_id');
  const bodySecret = form.get('client_secret');
  if (header !== undefined) {
    if (bodySecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    const basic = parseBasic(header);
    if (!basic || (bodyId !== undefined && bodyId !== basic.id)) throw new OAuthError('invalid_client', 'client authentication failed', true);
    return check(clients, basic.id, basic.secret, true);
  }
  if (bodyId === undefined || bodySecret === undefined) throw new OAuthError('invalid_client', 'client authentication is required');
  return check(clients, bodyId, bodySecret, false);
}

function check(clients: ReadonlyMap<string, SandboxClient>, id: string, secret: string, basic: boolean): SandboxClient {
  const client = clients.get(id);
  // Compare even for unknown ids, so timing does not tell which client ids exist.
  const ok = safeEqual(secret, client?.secret ?? '\u0000unknown-client') && client !== undefined;
  if (!ok) throw new OAuthError('invalid_client', 'client authentication failed', basic);
  return client;
}

/**
 * RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined with ':' and
 * base64-encoded, so each half is decoded again ('+' is a space there).
 */
function parseBasic(header: string): { id: string; secret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    const unform = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}
