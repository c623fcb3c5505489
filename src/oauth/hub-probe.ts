import { z } from 'zod';

/** What /healthz says about the hub behind it. */
export const hubIdentitySchema = z.object({
  linkKeyId: z.string(),
  /** Only disclosed on loopback binds, where the caller is on the same machine. */
  dataDir: z.string().optional(),
});
export type HubIdentity = z.infer<typeof hubIdentitySchema>;

export type ProbeResult = { kind: 'nothing' } | { kind: 'not-a-hub' } | { kind: 'same-keys' } | { kind: 'other-keys'; dataDir: string | undefined };

/**
 * Asks the listener at `baseUrl` which link-signing key it uses. Comparing key ids rather than
 * data-dir paths is what matters to a link (two paths may name one store through a symlink, and
 * `SWITCHBOARD_MASTER_KEY` hubs may share keys across hosts), and it needs no token.
 */
export async function probeHub(baseUrl: string, ownKeyId: string, timeoutMs = 1500): Promise<ProbeResult> {
  // A timer that holds the process open, unlike AbortSignal.timeout's: were a reset connection
  // to leave the request unsettled, a CLI would otherwise run out of work and exit 0 in silence
  // before the deadline aborts it.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`no answer from ${baseUrl} within ${timeoutMs} ms`)), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/healthz`, { signal: deadline.signal });
    } catch {
      return { kind: 'nothing' };
    }
    const body: unknown = await res.json().catch(() => undefined);
    const parsed = z.object({ hub: hubIdentitySchema }).safeParse(body);
    if (!res.ok || !parsed.success) return { kind: 'not-a-hub' };
    return parsed.data.hub.linkKeyId === ownKeyId ? { kind: 'same-keys' } : { kind: 'other-keys', dataDir: parsed.data.hub.dataDir };
  } finally {
    clearTimeout(timer);
  }
}
