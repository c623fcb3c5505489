import { type AccountSource, valueAt } from '../definition/account.js';
import { checkedValue, filledBase, originPlaceholder, placeholdersOf } from '../definition/api-base.js';
import { parseExact } from '../definition/exact-json.js';
import { describeError, HubError } from '../errors.js';
import type { CodeExchange } from '../oauth/client.js';
import type { Learned } from '../oauth/flows.js';
import type { Logger } from '../observability/logger.js';
import { parseRetryAfter } from '../providers/answer-outcome.js';
import type { ProviderClient } from '../providers/client.js';
import { apiKeyCredentials } from '../providers/credentials.js';
import type { IntegrationDefinition } from './definition.js';

// An identity answer is a small JSON document: a large one is not what the definition meant.
const IDENTITY_LIMITS = { timeoutMs: 10_000, maxResponseBytes: 256 * 1024, retries: 1 };

/** A GET made with the new access token (not yet the connection's: it is stored after these answers). */
function linkFetch(definition: IntegrationDefinition, provider: ProviderClient, base: string, accessToken: string) {
  return provider.bind({
    label: definition.title,
    apiBaseUrl: base,
    credentials: apiKeyCredentials({ header: 'authorization', prefix: 'Bearer ', value: accessToken }),
    paceKey: `${definition.name}:link`,
    limits: IDENTITY_LIMITS,
    // The user's browser waits on the callback page for these answers: a Retry-After (Jira's 429
    // says 30 s or more) is not waited out past the timeout, which held the page for up to a
    // minute per request before failing anyway; the 429 is the answer, with when to try again.
    waitsWithinTimeout: true,
  });
}

/** "answered 429; try linking again in 50 s": a refusal with a Retry-After says when a new link can work. */
function answered(path: string, res: Response): string {
  const wait = parseRetryAfter(res.headers.get('retry-after'), Date.now());
  return `GET ${path} answered ${res.status}${wait === undefined ? '' : `; try linking again in ${Math.max(1, Math.ceil(wait / 1000))} s`}`;
}

/**
 * How a link learns the provider's id of the account it linked, as the definition's `account`
 * block says: read from the token response, or asked of the API with the new access token, on the
 * connection's own base (`apiBase`, filled with the values this link learned). Undefined when the
 * definition declares nothing. A failure never fails the link: the connection then has no account
 * id and events naming the account stay unroutable (kept and listed) until the next link learns
 * it; the warning says so.
 */
export function accountLearner(
  definition: IntegrationDefinition,
  provider: ProviderClient,
  log: Logger,
): ((exchange: CodeExchange, apiBase?: string) => Promise<string | undefined>) | undefined {
  const from = definition.account?.from;
  if (from === undefined) return undefined;
  const warn = (why: string) => {
    log.warn({ integration: definition.name, why }, 'could not learn the linked account id: its webhook events will not be routed to it');
    return undefined;
  };
  return async ({ tokens, response }, apiBase = definition.apiBaseUrl) => {
    if (from.kind === 'token') return valueAt(response, from.path) ?? warn(`the token response has no token:${from.path.join('.')}`);
    try {
      const res = await linkFetch(definition, provider, apiBase, tokens.accessToken)(from.path, { headers: { accept: 'application/json' } });
      if (!res.ok) {
        await res.body?.cancel();
        return warn(answered(from.path, res));
      }
      const id = valueAt(parseExact(await res.text()), from.at);
      return id ?? warn(`GET ${from.path} has no ${from.at.join('.')}`);
    } catch (err) {
      return warn(`GET ${from.path} failed: ${describeError(err)}`);
    }
  };
}

/**
 * How a link learns the values of `apiBaseUrl`'s placeholders (`account.values`): each read off
 * the token response, or asked with the new access token of the base's fixed origin (Jira's
 * `https://api.atlassian.com/oauth/token/accessible-resources`), each request made once per link.
 * Unlike the account id, a value the link cannot learn, or one that fails its checks (an origin
 * that is no https origin, or on a host `allowedHosts` does not list), fails the link: no call
 * could be made without it, and credentials must reach no host but the one learned here.
 */
export function valuesLearner(
  definition: IntegrationDefinition,
  provider: ProviderClient,
): ((exchange: CodeExchange) => Promise<Record<string, string>>) | undefined {
  const declared = Object.entries(definition.account?.values ?? {});
  if (declared.length === 0) return undefined;
  const fail = (why: string) =>
    new HubError('oauth_flow_failed', `${definition.title} was not linked: ${why}; nothing was linked`, { details: { integration: definition.name } });
  // The rule at load (apiValuesRule) keeps requests to bases whose origin is fixed.
  const origin = originPlaceholder(definition.apiBaseUrl) === undefined ? new URL(definition.apiBaseUrl.replace(/\{[^{}]*\}/g, 'x')).origin : undefined;
  return async ({ tokens, response }) => {
    const answers = new Map<string, Promise<unknown>>();
    const ask = (path: string): Promise<unknown> => {
      let answer = answers.get(path);
      if (answer === undefined) {
        if (origin === undefined) throw fail(`GET ${path} needs a fixed origin`);
        answer = (async () => {
          let res: Response;
          try {
            res = await linkFetch(definition, provider, origin, tokens.accessToken)(path, { headers: { accept: 'application/json' } });
          } catch (err) {
            throw fail(`GET ${path} failed: ${describeError(err)}`);
          }
          if (!res.ok) {
            await res.body?.cancel();
            throw fail(answered(path, res));
          }
          try {
            return parseExact(await res.text());
          } catch {
            throw fail(`GET ${path} answered with no JSON`);
          }
        })();
        answers.set(path, answer);
      }
      return answer;
    };
    const read = async (name: string, src: AccountSource): Promise<string> => {
      const raw = src.kind === 'token' ? valueAt(response, src.path) : valueAt(await ask(src.path), src.at);
      const where = src.kind === 'token' ? `the token response has no token:${src.path.join('.')}` : `GET ${src.path} has no ${src.at.join('.')}`;
      if (raw === undefined) throw fail(`${where} (the value of {${name}} in apiBaseUrl)`);
      const checked = checkedValue(name, raw, definition.apiBaseUrl, definition.allowedHosts);
      if (!checked.ok) throw fail(checked.why);
      return checked.value;
    };
    const values: Record<string, string> = {};
    for (const [name, src] of declared) values[name] = await read(name, src);
    return values;
  };
}

/**
 * What a link learns, in order: the base's values first (a failure fails the link), then the
 * account id, asked of the connection's own base once it is known.
 */
export function linkLearner(
  definition: IntegrationDefinition,
  provider: ProviderClient,
  log: Logger,
): ((exchange: CodeExchange) => Promise<Learned>) | undefined {
  const values = valuesLearner(definition, provider);
  const account = accountLearner(definition, provider, log);
  if (values === undefined && account === undefined) return undefined;
  return async (exchange) => {
    const apiValues = values === undefined ? {} : await values(exchange);
    const base = placeholdersOf(definition.apiBaseUrl).length === 0 ? definition.apiBaseUrl : filledBase(definition.apiBaseUrl, apiValues);
    const accountId = account === undefined || base === undefined ? undefined : await account(exchange, base);
    return { apiValues, ...(accountId === undefined ? {} : { accountId }) };
  };
}
