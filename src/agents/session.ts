import { createHmac } from 'node:crypto';
import type { Identity } from '../identity/identity.js';

/** The hub secret the session identities are derived from (kept in the store, sealed by the vault). */
export const AGENT_SESSION_KEY = 'agent_session_key';

/**
 * The identity an agent sees for a caller: stable across calls (so a multi-turn agent keeps its
 * context), distinct between users and between agents (so no agent can link one user's sessions
 * across agents or see another user's), and opaque (an HMAC under a hub key: the agent never
 * learns the tenant or user id, and cannot forge another caller's). Each field is
 * length-prefixed so `("a:b", "c")` and `("a", "b:c")` cannot collide.
 */
export function sessionIdentity(key: Buffer, who: Identity, agent: string): string {
  const h = createHmac('sha256', key);
  for (const part of ['switchboard/agent-session/v1', who.tenant, who.user, agent]) h.update(`${Buffer.byteLength(part)}:${part}`);
  return `sbs_${h.digest('base64url').slice(0, 32)}`;
}
