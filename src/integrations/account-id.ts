import { valueAt } from '../definition/account.js';
import { parseExact } from '../definition/exact-json.js';
import { describeError } from '../errors.js';
import type { CodeExchange } from '../oauth/client.js';
import type { Logger } from '../observability/logger.js';
import type { ProviderClient } from '../providers/client.js';
import { apiKeyCredentials } from '../providers/credentials.js';
import type { IntegrationDefinition } from './definition.js';

// An identity answer is a small JSON document: a large one is not what the definition meant.
const IDENTITY_LIMITS = { timeoutMs: 10_000, maxResponseBytes: 256 * 1024, retries: 1 };

/**
 * How a link learns the provider's id of the account it linked, as the definition's `account`
 * block says: read from the token response, or asked of the API with the new access token.
 * Undefined when the definition declares nothing. A failure never fails the link: the connection
 * then has no account id and events naming the account stay unroutable (kept and listed) until
 * the next link learns it; the warning says so.
 */
export function accountLearner(
  definition: IntegrationDefinition,
  provider: ProviderClient,
  log: Logger,
): ((exchange: CodeExchange) => Promise<string | undefined>) | undefined {
  const from = definition.account?.from;
  if (from === undefined) return undefined;
  const warn = (why: string) => {
    log.warn({ integration: definition.name, why }, 'could not learn the linked account id: its webhook events will not be routed to it');
    return undefined;
  };
  return async ({ tokens, response }) => {
    if (from.kind === 'token') return valueAt(response, from.path) ?? warn(`the token response has no token:${from.path.join('.')}`);
    try {
      const fetch = provider.bind({
        label: definition.title,
        apiBaseUrl: definition.apiBaseUrl,
        // Not the connection's credentials: the connection is stored after this answer.
        credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Bearer ', value: tokens.accessToken }),
        paceKey: `${definition.name}:link`,
        limits: IDENTITY_LIMITS,
      });
      const res = await fetch(from.path, { headers: { accept: 'application/json' } });
      if (!res.ok) {
        await res.body?.cancel();
        return warn(`GET ${from.path} answered ${res.status}`);
      }
      const id = valueAt(parseExact(await res.text()), from.at);
      return id ?? warn(`GET ${from.path} has no ${from.at.join('.')}`);
    } catch (err) {
      return warn(`GET ${from.path} failed: ${describeError(err)}`);
    }
  };
}
