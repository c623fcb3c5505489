import type { Clock } from '../clock.js';
import { webhookSecretsOf, type AgentConfig } from '../definition/agents.js';
import { HubError } from '../errors.js';
import { inputValidator } from '../mcp/validate-input.js';
import type { ProviderClient } from '../providers/client.js';
import type { AgentAdapter } from './adapter.js';
import { HttpAgentAdapter } from './http.js';
import type { AgentRuntime } from './invoke.js';
import { KoreAdapter } from './kore.js';
import { UpagentsAdapter } from './upagents.js';
import { outputCheck } from './validate-output.js';

/** Without a declared input schema the agent takes one string, its task in words. */
export const DEFAULT_INPUT_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The task for the agent, in words' } },
  required: ['input'],
};

export interface BuildDeps {
  provider: ProviderClient;
  clock: Clock;
  /** The hub's URL, read when a call is made (a hub-relative `baseUrl` resolves against it). */
  publicUrl: () => string;
}

/**
 * What this build cannot run as configured. Refused at start-up naming the agent and the key,
 * rather than listed as a tool that can only fail.
 */
function unsupported(name: string, a: AgentConfig): string | undefined {
  // Callbacks are verified with it (seed 000, "Webhook Signature Verification"): without one, none could be trusted.
  if (a.protocol === 'upagents' && a.mode === 'async' && !a.webhookSecret)
    return `agents.${name}.webhookSecret: required with mode "async" (the agent's callbacks are verified with it)`;
  return undefined;
}

function adapterOf(name: string, a: AgentConfig, d: BuildDeps): AgentAdapter {
  const common = { name, provider: d.provider, clock: d.clock };
  switch (a.protocol) {
    case 'upagents': {
      const baseUrl = a.baseUrl.startsWith('/') ? () => `${d.publicUrl().replace(/\/+$/, '')}${a.baseUrl}` : () => a.baseUrl;
      return new UpagentsAdapter({ ...common, config: a, baseUrl });
    }
    case 'kore':
      return new KoreAdapter({ ...common, config: a, publicUrl: d.publicUrl });
    case 'http':
      return new HttpAgentAdapter({ ...common, config: a, publicUrl: d.publicUrl });
  }
}

/** Every enabled agent of the config, ready to call; throws config_invalid for one this build cannot run. */
export function buildAgents(agents: Record<string, AgentConfig>, d: BuildDeps): Map<string, AgentRuntime> {
  const out = new Map<string, AgentRuntime>();
  const problems = Object.entries(agents)
    .filter(([, a]) => !a.disabled)
    .flatMap(([name, a]) => unsupported(name, a) ?? []);
  if (problems.length > 0) throw new HubError('config_invalid', problems.join('; '), { details: { problems } });
  for (const [name, a] of Object.entries(agents)) {
    if (a.disabled) continue;
    out.set(name, {
      name,
      config: a,
      adapter: adapterOf(name, a, d),
      validateInput: inputValidator(`agent__${name}`, a.inputSchema ?? DEFAULT_INPUT_SCHEMA),
      checkOutput: outputCheck({ outputSchema: a.outputSchema, minConfidence: a.minConfidence }),
    });
  }
  return out;
}

/**
 * Header names that carry a credential: their values are scrubbed from results like keys are. Other
 * headers (`X-Team: support`) are settings, and scrubbing their values would cut ordinary words out
 * of every agent's answers.
 */
const CREDENTIAL_WORDS = 'auth|key|token|secret|signature|password|credential';
const CREDENTIAL_HEADER = new RegExp(`${CREDENTIAL_WORDS}|cookie|session`, 'i');

/** `Bearer abc`, `Basic abc`, `Token abc`, `Bot abc`: an agent that echoes the credential may echo it without its scheme. */
const SCHEME = /^[A-Za-z][\w-]*\s+(\S.*)$/;

/**
 * Query parameters and body fields that carry a credential, for APIs that take their key there
 * rather than in a header (OpenWeather's `appid`, Google's `key`, `api_key`, `access_token`).
 */
const CREDENTIAL_FIELD = new RegExp(`${CREDENTIAL_WORDS}|appid|^sig$`, 'i');

/** Every secret of the agents' config, for scrubbing results: keys, webhook secrets (each of a rotation's), credential header values. */
export function secretsOf(agents: Record<string, AgentConfig>): string[] {
  return Object.values(agents).flatMap((a) => [
    ...('apiKey' in a ? [a.apiKey] : []),
    ...webhookSecretsOf(a),
    ...Object.entries(a.headers)
      .filter(([name]) => CREDENTIAL_HEADER.test(name))
      .flatMap(([, value]) => [value, ...(SCHEME.exec(value)?.slice(1) ?? [])]),
    ...('url' in a ? querySecretsOf(a.url) : []),
    ...('body' in a ? bodySecretsOf(a.body) : []),
  ]);
}

/**
 * The configured values of a URL's credential parameters (`?appid=${WEATHER_KEY}`), as written and
 * decoded: an API that refuses the key quotes it ("Invalid API key …"), and one may echo its URL.
 * A value filled from the call's arguments (`{{input.city}}`) is the caller's own, not a secret.
 */
function querySecretsOf(url: string): string[] {
  const query = url.split('#')[0]!.split('?').slice(1).join('?');
  return query.split('&').flatMap((pair) => {
    const at = pair.indexOf('=');
    if (at < 0 || !CREDENTIAL_FIELD.test(decoded(pair.slice(0, at)))) return [];
    const value = pair.slice(at + 1);
    return value === '' || value.includes('{{') ? [] : [value, decoded(value)];
  });
}

/** The configured string values of a body template's credential fields, at any depth. */
function bodySecretsOf(body: unknown): string[] {
  if (Array.isArray(body)) return body.flatMap(bodySecretsOf);
  if (body === null || typeof body !== 'object') return [];
  return Object.entries(body).flatMap(([name, value]) =>
    typeof value === 'string' ? (CREDENTIAL_FIELD.test(name) && !value.includes('{{') ? [value] : []) : bodySecretsOf(value),
  );
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
