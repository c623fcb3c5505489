import { Webhook } from 'standardwebhooks';
import type { WebhookScheme } from '../../src/definition/webhooks.js';
import type { TokenSet } from '../../src/connections/types.js';
import type { RunningHub } from '../helpers/hub.js';
import { CASES } from './schemes-signers.js';

/** The shared secret of the routed integration `acme`, and one a connection may hold as its own. */
export const ACME_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const OWN_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

/** An OAuth block whose endpoints are never reached: the integrations here are linked by the repository directly. */
const LINKED = { authorizeUrl: 'https://auth.example.test/authorize', tokenUrl: 'https://auth.example.test/token', clientId: 'hub', clientSecret: 's' };

/**
 * One integration per scheme (`hook_<scheme>`) that takes webhooks signed with the case's first
 * secret. Linked per user through OAuth (never exercised here): one without linked accounts could
 * route its events to no one, and does not load.
 */
export function schemeIntegrations(): Record<string, unknown> {
  return Object.fromEntries(
    CASES.map((c) => [
      hookName(c.scheme),
      {
        type: 'custom',
        oauth: LINKED,
        apiBaseUrl: 'https://api.example.test',
        tools: {},
        webhooks: {
          scheme: c.scheme,
          secrets: [c.secrets[0]],
          // The marketplace scheme has no standard delivery id.
          ...(c.scheme === 'upagents' ? { idFrom: 'body:task_id' } : {}),
          maxBodyBytes: 2048,
        },
      },
    ]),
  );
}

export function hookName(scheme: WebhookScheme): string {
  return `hook_${scheme.replace('-', '_')}`;
}

/** `acme`: linked per user through OAuth (never exercised here), events routed by `account_id`. */
export const ACME = {
  type: 'custom',
  oauth: LINKED,
  apiBaseUrl: 'https://api.example.test',
  tools: {},
  webhooks: { scheme: 'standard-webhooks', secrets: [ACME_SECRET], accountFrom: 'body:account_id', eventIdFrom: 'body:id', typeFrom: 'body:type' },
};

/** An integration without webhooks: its /webhooks path is a 404. */
export const PLAIN = { type: 'custom', auth: { type: 'none' }, apiBaseUrl: 'https://api.example.test', tools: {} };

/** Standard Webhooks headers for `body` with this message id, signed now (or at `seconds`). */
export function standardHeaders(secret: string, id: string, body: string, seconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': new Webhook(secret).sign(id, new Date(seconds * 1000), body),
  };
}

export function post(hub: RunningHub, path: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${new URL(hub.url).origin}${path}`, { method: 'POST', headers, body });
}

export const tokens = (n: number): TokenSet => ({ accessToken: `at-${n}`, tokenType: 'Bearer' });
