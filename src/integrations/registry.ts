import { BUILTIN_INTEGRATIONS } from '../../integrations/index.js';
import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import { HubError } from '../errors.js';
import { OAuthClient } from '../oauth/client.js';
import type { FlowIntegration } from '../oauth/flows.js';
import { defineIntegration, type IntegrationDefinition } from './definition.js';

/** The sandbox is hosted by the hub itself, so its OAuth client is the hub's own and needs no config. */
export const SANDBOX_CLIENT_ID = 'switchboard';

export interface ResolvedIntegration {
  definition: IntegrationDefinition;
  client: OAuthClient;
  flow: FlowIntegration;
  clientId: string;
  /** The secret, to hand to a provider the hub hosts (the sandbox); never logged. */
  clientSecret: string;
}

export interface ResolveContext {
  publicUrl: string;
  clock: Clock;
  /** The generated client secret of the hosted sandbox provider. */
  sandboxSecret: () => string;
}

/** Builds every enabled integration of the config: built-ins by name, and custom APIs declared in config. */
export function resolveIntegrations(config: HubConfig, ctx: ResolveContext): ResolvedIntegration[] {
  const out: ResolvedIntegration[] = [];
  for (const [name, entry] of Object.entries(config.integrations)) {
    if (entry.disabled) continue;
    let definition: IntegrationDefinition;
    let clientId: string;
    let clientSecret: string;
    let scopes: string[];
    if (entry.type === 'custom') {
      const { clientId: id, clientSecret: secret, ...oauth } = entry.oauth;
      definition = defineIntegration({ name, title: entry.title ?? name, ...(entry.description ? { description: entry.description } : {}), oauth, apiBaseUrl: entry.apiBaseUrl, tools: entry.tools });
      clientId = id;
      clientSecret = secret;
      scopes = oauth.scopes;
    } else {
      const factory = BUILTIN_INTEGRATIONS[name];
      if (!factory) {
        throw new HubError('config_invalid', `integrations.${name}: there is no built-in integration by that name (known: ${Object.keys(BUILTIN_INTEGRATIONS).join(', ')}); declare "type": "custom" to describe your own API`);
      }
      definition = factory({ publicUrl: ctx.publicUrl });
      const hosted = name === 'sandbox';
      const id = entry.clientId ?? (hosted ? SANDBOX_CLIENT_ID : undefined);
      const secret = entry.clientSecret ?? (hosted ? ctx.sandboxSecret() : undefined);
      if (id === undefined || secret === undefined) throw new HubError('config_invalid', `integrations.${name}: clientId and clientSecret are required`);
      clientId = id;
      clientSecret = secret;
      scopes = entry.scopes ?? definition.oauth.scopes;
    }
    const issuer = definition.oauth.issuer ?? new URL(definition.oauth.authorizeUrl).origin;
    const client = new OAuthClient({ ...definition.oauth, clientId, clientSecret, scopes }, ctx.clock);
    out.push({ definition, client, clientId, clientSecret, flow: { name, title: definition.title, client, issuer, scopes, requireIss: definition.oauth.requireIss } });
  }
  return out;
}
