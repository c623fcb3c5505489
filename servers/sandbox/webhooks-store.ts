import { z } from 'zod';
import type { Clock } from '../../src/clock.js';
import type { SandboxDb } from './db.js';
import { publicId } from './secrets.js';
import { newWebhookSecret } from './signature.js';

/** Endpoints one account may register; enough for a hub and a spare, not a way to fill the disk. */
export const MAX_WEBHOOKS_PER_ACCOUNT = 10;

/** An endpoint as the API lists it: the secret is shown once, when it is created. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  created_at: string;
}

/** Where and how to sign one delivery. */
export interface DeliveryTarget {
  /** `app` for the endpoint from the sandbox options, else the registered endpoint's id. */
  endpoint: string;
  url: string;
  secret: string;
}

const rowSchema = z.object({ id: z.string(), url: z.string(), secret: z.string(), created_at: z.number().int() });

/** Per-account webhook endpoints, registered through the API like a repository hook. */
export class WebhookStore {
  constructor(
    private readonly db: SandboxDb,
    private readonly clock: Clock,
  ) {}

  /** Registers an endpoint and returns it with its new secret, or null past the per-account cap. */
  add(owner: string, url: string): (WebhookEndpoint & { secret: string }) | null {
    const id = publicId('wh');
    const secret = newWebhookSecret();
    const now = this.clock.now();
    const added = this.db.transaction(() => {
      const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM sandbox_webhooks WHERE owner = ?').get(owner) as { n: number };
      if (n >= MAX_WEBHOOKS_PER_ACCOUNT) return false;
      this.db.prepare('INSERT INTO sandbox_webhooks (id, owner, url, secret, created_at) VALUES (?, ?, ?, ?, ?)').run(id, owner, url, secret, now);
      return true;
    })();
    return added ? { id, url, secret, created_at: new Date(now).toISOString() } : null;
  }

  list(owner: string): WebhookEndpoint[] {
    return this.rows(owner).map(({ id, url, created_at }) => ({ id, url, created_at: new Date(created_at).toISOString() }));
  }

  remove(owner: string, id: string): boolean {
    return this.db.prepare('DELETE FROM sandbox_webhooks WHERE owner = ? AND id = ?').run(owner, id).changes === 1;
  }

  /** The account's endpoints in the order they were registered, secrets included. */
  targets(owner: string): DeliveryTarget[] {
    return this.rows(owner).map((r) => ({ endpoint: r.id, url: r.url, secret: r.secret }));
  }

  private rows(owner: string): z.infer<typeof rowSchema>[] {
    return this.db
      .prepare('SELECT id, url, secret, created_at FROM sandbox_webhooks WHERE owner = ? ORDER BY seq')
      .all(owner)
      .map((r) => rowSchema.parse(r));
  }
}
