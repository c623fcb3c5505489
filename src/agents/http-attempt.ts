import type { Clock } from '../clock.js';
import { describeError, isHubError } from '../errors.js';
import type { ProviderClient, ProviderTarget } from '../providers/client.js';
import { noCredentials } from '../providers/credentials.js';
import { retryAfterMs } from '../providers/retry.js';
import { AgentAttemptError } from './adapter.js';

/**
 * One HTTP exchange with an agent that is addressed by a whole URL (the kore and http
 * protocols), classified the way the policy reads it (policy.ts). The provider client owns the
 * timeout, the size cap and the redirect check; it is told not to retry, since an agent call is
 * not safe to repeat there. Credentials are the entry's headers: they ride in the request's
 * headers, and redirects are followed only inside the URL's own path (scope.ts), so they cannot
 * be carried to another host.
 */
export interface AgentExchange {
  /** The config entry's name: errors and the pacer say it, never a header value. */
  name: string;
  provider: ProviderClient;
  clock: Clock;
  timeoutMs: number;
  signal: AbortSignal;
}

/** A hub-relative URL (the sandbox marketplace) resolved against the hub's URL at call time. */
export function absoluteUrl(url: string, publicUrl: () => string): string {
  return url.startsWith('/') ? `${publicUrl().replace(/\/+$/, '')}${url}` : url;
}

/** Sends `init` to `url`; `streamed` ends the deadline at the headers (an SSE answer). A non-2xx is thrown classified. */
export async function exchange(x: AgentExchange, url: string, init: RequestInit, streamed: boolean): Promise<Response> {
  const u = new URL(url);
  const target: ProviderTarget = {
    label: `agent ${x.name}`,
    // The scope is the URL's own folder: a redirect may stay beside it, not leave it.
    apiBaseUrl: `${u.origin}${u.pathname.replace(/[^/]*$/, '')}`,
    credentials: noCredentials,
    paceKey: `agent:${x.name}`,
    idempotent: false,
    limits: { timeoutMs: x.timeoutMs, retries: 0 },
    signal: x.signal,
  };
  let res: Response;
  try {
    res = streamed ? await x.provider.open(target, u.href, init) : await x.provider.bind(target)(u.href, init);
  } catch (err) {
    throw failure(x, err);
  }
  if (!res.ok) throw await refusal(x, res);
  return res;
}

/** The body as JSON; a body that is not JSON is the agent's fault (a protocol error, like a 5xx). */
export async function jsonOf(x: AgentExchange, res: Response): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw failure(x, err);
  }
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    throw new AgentAttemptError('protocol', `agent ${x.name} answered with a body that is not JSON`);
  }
}

/** A non-2xx answer, classified; a little of its body explains it (agents put the reason there). */
async function refusal(x: AgentExchange, res: Response): Promise<AgentAttemptError> {
  const said = (await readSome(res, 300)).trim();
  const wait = retryAfterMs(res.headers, x.clock);
  return new AgentAttemptError('status', `agent ${x.name} answered ${res.status}${said ? `: ${said}` : ''}`, {
    status: res.status,
    ...(wait === undefined ? {} : { retryAfterMs: wait }),
  });
}

/** A thrown error, classified; the caller's own cancel is passed on as it is (not the agent's failure). */
export function failure(x: AgentExchange, err: unknown): unknown {
  if (err instanceof AgentAttemptError) return err;
  if (x.signal.aborted && !(isHubError(err) && err.code === 'provider_timeout')) return err;
  if (isHubError(err)) {
    if (err.code === 'provider_timeout') return new AgentAttemptError('timeout', err.message, { cause: err });
    if (err.code === 'provider_unreachable') return new AgentAttemptError('transport', err.message, { cause: err });
    return new AgentAttemptError('protocol', err.message, { cause: err });
  }
  return new AgentAttemptError('transport', `agent ${x.name}: ${describeError(err)}`, { cause: err });
}

/** Up to `max` characters of a body (an explanation of a refusal); the rest is cancelled, never read. */
async function readSome(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // What arrived explains it well enough.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, max);
}
