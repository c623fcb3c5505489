import type { Clock } from '../../src/clock.js';
import type { SandboxClient } from './client-auth.js';
import type { WebhookDispatcher } from './delivery.js';
import type { EventStore } from './events-store.js';
import type { OAuthStore } from './store.js';
import type { TicketStore } from './tickets-store.js';
import type { WebhookStore } from './webhooks-store.js';

/** The scopes this provider knows; a request without `scope` is granted all of them. */
export const SCOPES = ['read', 'write'] as const;

/** What every route module of one sandbox instance shares. */
export interface SandboxContext {
  /** The issuer identifier: the absolute URL of the mount point, without a trailing slash. */
  issuer: string;
  /** The issuer's path (the mount point), '' when mounted at the root. */
  basePath: string;
  clients: ReadonlyMap<string, SandboxClient>;
  oauth: OAuthStore;
  tickets: TicketStore;
  events: EventStore;
  webhooks: WebhookStore;
  dispatcher: WebhookDispatcher;
  clock: Clock;
  accessTtlMs: number;
  omitRefreshTokenOnRefresh: boolean;
  omitExpiresIn: boolean;
}

/** The realm named in WWW-Authenticate challenges. */
export const REALM = 'sandbox';
