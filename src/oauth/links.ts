import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HubError } from '../errors.js';
import type { Identity } from '../identity/identity.js';

/** What a signed link vouches for: who may link which integration (or open /connect), until when. */
const payloadSchema = z.object({
  v: z.literal(1),
  /**
   * 'link' starts an OAuth flow and 'connect' opens the /connect page (both once only); 'session'
   * is the /connect session cookie, a different kind of token so it can never be used as a link.
   */
  p: z.enum(['link', 'connect', 'session']),
  t: z.string(),
  u: z.string(),
  i: z.string().optional(),
  exp: z.number(),
  n: z.string(),
});
export type LinkPayload = z.infer<typeof payloadSchema>;

export const LINK_TTL_MS = 15 * 60_000;

/** The hub secret links are signed with: one per data dir, so every process on it accepts the others' links. */
export const LINK_SIGNING_KEY = 'link_signing_key';

/**
 * Short-lived signed links (HMAC-SHA256 over a JSON payload). A link binds who is linking to the
 * flow it starts: the browser that opens it needs no hub token, and a tampered or expired link
 * is refused before anything changes. The signature only says who a link is for; that it is used
 * once, by one browser, is kept by `LinkUses` (link-uses.ts).
 */
export class LinkSigner {
  constructor(
    private readonly key: () => Buffer,
    private readonly clock: Clock,
  ) {}

  mint(purpose: LinkPayload['p'], who: Identity, integration?: string, ttlMs = LINK_TTL_MS): string {
    const payload: LinkPayload = {
      v: 1,
      p: purpose,
      t: who.tenant,
      u: who.user,
      ...(integration === undefined ? {} : { i: integration }),
      exp: this.clock.now() + ttlMs,
      n: randomBytes(9).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(purpose, body)}`;
  }

  verify(token: string, purpose: LinkPayload['p']): LinkPayload {
    const [body, mac] = token.split('.');
    if (!body || !mac) throw new HubError('oauth_flow_failed', 'this link is malformed');
    // Signed for one purpose only: a session cookie offered as a link fails here, before its payload is read.
    const expected = Buffer.from(this.sign(purpose, body));
    const given = Buffer.from(mac);
    // timingSafeEqual throws on unequal lengths: compare lengths first.
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw new HubError('oauth_flow_failed', 'this link is not valid (it was altered or is from another hub)');
    let payload: LinkPayload;
    try {
      payload = payloadSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    } catch {
      throw new HubError('oauth_flow_failed', 'this link is malformed');
    }
    if (payload.p !== purpose) throw new HubError('oauth_flow_failed', 'this link is for something else');
    if (payload.exp <= this.clock.now()) throw new HubError('oauth_flow_failed', 'this link has expired; ask for a new one');
    return payload;
  }

  /**
   * A public fingerprint of the signing key (an HMAC of a fixed label, so it reveals nothing about
   * the key): two hubs accept each other's links exactly when their key ids are equal.
   */
  keyId(): string {
    return createHmac('sha256', this.key()).update('switchboard/link-key-id').digest('base64url').slice(0, 16);
  }

  /** Set when what answers at the public URL would not take this hub's links: a hub with another key, or no hub (see probeHub). */
  foreign: ForeignHub | undefined;

  /**
   * Settles once the hub knows where its links open. A stdio hub binds its HTTP port, or looks for
   * the hub serving its data dir, a moment after the handshake; a link handed out before then
   * pointed at a port that did not answer yet (or at the wrong hub), and a client that opens URL
   * elicitations at once met a refused connection. Links wait for it (integrations/source.ts).
   */
  settled: Promise<void> = Promise.resolve();

  /** A sentence to show next to a link while the hub at the public URL would reject it. */
  notice(): string | undefined {
    const f = this.foreign;
    if (!f) return undefined;
    if ('notAHub' in f)
      return `Warning: something other than a Switchboard hub answers at ${f.url} (another program holds its port), so this link will not open there. Stop that program, or give this hub another port (server.port in the config, or --port), and start it again.`;
    return `Warning: the hub at ${f.url} will reject this link as from another hub: it runs on another data dir (${f.dataDir ?? 'not disclosed'}) than this one (${f.ownDataDir}). Stop one of them, or start both with the same --data or dataDir.`;
  }

  /** The purpose is part of the MAC input (domain separation), as well as of the payload. */
  private sign(purpose: LinkPayload['p'], body: string): string {
    return createHmac('sha256', this.key()).update(`switchboard/${purpose}\0`).update(body).digest('base64url');
  }
}

/** What answers at the public URL instead of this hub: a hub on another data dir, or a program that is no hub. */
export type ForeignHub = { url: string; dataDir: string | undefined; ownDataDir: string } | { url: string; notAHub: true };
