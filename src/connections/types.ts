import { z } from 'zod';

export const CONNECTION_STATES = ['active', 'needs_reauth', 'revoked', 'error'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** A linked account: who linked which integration, and in what state the link is. */
export interface Connection {
  id: string;
  tenant: string;
  user: string;
  integration: string;
  state: ConnectionState;
  /** Why the connection is not active, in words a user can act on. */
  reason: string | null;
  /** Bumped by every committed token change; refreshes are guarded by it. */
  tokenVersion: number;
  /** Epoch ms when the access token expires; null when the provider did not say. */
  accessExpiresAt: number | null;
  scopes: string[];
  refreshOwner: string | null;
  refreshUntil: number | null;
  refreshStartedAt: number | null;
  refreshFailures: number;
  lastRefreshAt: number | null;
  /** The provider's id of the linked account, learned at link time (webhooks.accountFrom routes by it). */
  accountId: string | null;
  /**
   * What fills the placeholders of the integration's `apiBaseUrl` for this account (Jira's
   * `cloudId`, Salesforce's `instanceUrl`), learned when it was linked; empty when it has none.
   */
  apiValues: Record<string, string>;
  /** The id in `/webhooks/<integration>/<endpoint>` that routes to this connection; null when it has none. */
  webhookEndpoint: string | null;
  /** Whether the connection has its own webhook secret (the value stays in the vault). */
  hasWebhookSecret: boolean;
  createdAt: number;
  updatedAt: number;
}

/** What the vault holds for a connection. Parsed on the way out: a damaged row is an error, not a guess. */
export const tokenSetSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  tokenType: z.string().default('Bearer'),
  scope: z.string().optional(),
  /** Epoch ms. */
  expiresAt: z.number().optional(),
  /** Epoch ms when the set was issued: with expiresAt, the token's lifetime. */
  obtainedAt: z.number().optional(),
});
export type TokenSet = z.infer<typeof tokenSetSchema>;
