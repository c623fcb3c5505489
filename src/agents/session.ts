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
  const parts = ['switchboard/agent-session/v1', who.tenant, who.user, agent].map((part) => `${Buffer.byteLength(part)}:${part}`);
  // The same caller calls the same agent many times: an HMAC per call was a measurable share of
  // the hub's CPU per agent call (bench/agents.ts), so each key remembers its recent identities.
  let known = remembered.get(key);
  if (known === undefined) {
    known = new Map();
    remembered.set(key, known);
  }
  const memo = parts.join('');
  const hit = known.get(memo);
  if (hit !== undefined) return hit;
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  const id = `sbs_${h.digest('base64url').slice(0, 32)}`;
  // Bounded: past the limit the oldest entry goes (a Map iterates in insertion order).
  if (known.size >= MAX_REMEMBERED) known.delete(known.keys().next().value!);
  known.set(memo, id);
  return id;
}

const MAX_REMEMBERED = 10_000;
/** Per key buffer (the hub loads its key once), so a test's other key never sees these. */
const remembered = new WeakMap<Buffer, Map<string, string>>();
