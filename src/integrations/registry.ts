import { BUILTIN_INTEGRATIONS } from '../../integrations/index.js';
import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import { HubError } from '../errors.js';
import { OAuthClient } from '../oauth/client.js';
import type { FlowIntegration } from '../oauth/flows.js';
import { applyWebhookSettings, type WebhooksConfig } from '../definition/webhooks.js';
import { apiKeyCredentials, noCredentials, type Credentials } from '../providers/credentials.js';
import { definitionFromConfig, type IntegrationDefinition } from './definition.js';

export interface ResolvedIntegration {
  definition: IntegrationDefinition;
  client: OAuthClient;
  flow: FlowIntegration;
  clientId: string;
  /** The secret, to hand to a provider the hub hosts; never logged. */
  clientSecret: string;
  /** How its webhooks are verified, with the secrets from config; absent when none are configured. */
  webhooks?: WebhooksConfig;
}

export interface ResolveContext {
  publicUrl: string;
  clock: Clock;
  /**
   * The hub's own client at a provider it hosts (see hosted.ts), used when the config names none;
   * undefined for any other integration.
   */
  hostedClient?: (integration: string) => { id: string; secret: () => string; webhookSecret?: () => string } | undefined;
}

/**
 * The integrations of the config an account is linked to: every enabled one but a custom API
 * called with a key (or none). `connect` reads it from the config alone, before any store exists.
 */
export function linkableIntegrations(config: HubConfig): string[] {
  return Object.entries(config.integrations)
    .filter(([, entry]) => !entry.disabled && (entry.type !== 'custom' || entry.oauth !== undefined))
    .map(([name]) => name);
}

/** Builds every enabled integration of the config: built-ins by name, and custom APIs declared in config. */
export function resolveIntegrations(config: HubConfig, ctx: ResolveContext): ResolvedIntegration[] {
  const out: ResolvedIntegration[] = [];
  for (const name of linkableIntegrations(config)) {
    const entry = config.integrations[name]!;
    let definition: IntegrationDefinition;
    let clientId: string;
    let clientSecret: string | (() => string);
    let scopes: string[];
    let webhooks: WebhooksConfig | undefined;
    if (entry.type === 'custom') {
      // Left out by linkableIntegrations: an API called with one key (or none) has nothing to link
      // (resolveKeyedIntegrations has it). Said again for the type.
      if (!entry.oauth) continue;
      ({ definition, webhooks } = definitionFromConfig(name, entry));
      clientId = entry.oauth.clientId;
      clientSecret = entry.oauth.clientSecret;
      scopes = entry.oauth.scopes;
    } else {
      const factory = BUILTIN_INTEGRATIONS[name];
      if (!factory) {
        throw new HubError(
          'config_invalid',
          `integrations.${name}: there is no built-in integration by that name (known: ${Object.keys(BUILTIN_INTEGRATIONS).join(', ')}); declare "type": "custom" to describe your own API`,
        );
      }
      definition = factory({ publicUrl: ctx.publicUrl });
      // A built-in's definition knows its webhook format; the config brings the secrets.
      const applied = applyWebhookSettings(definition.webhooks, entry.webhooks);
      if (applied !== undefined && 'error' in applied) throw new HubError('config_invalid', `integrations.${name}.webhooks: ${applied.error}`);
      webhooks = applied;
      const hosted = ctx.hostedClient?.(name);
      if (hosted?.webhookSecret && definition.webhooks) webhooks = withHostedSecret(applied ?? { ...definition.webhooks, secrets: [] }, hosted.webhookSecret);
      // A provider with a URL per account may sign with each account's own secret only (set per connection).
      else if (webhooks === undefined && definition.webhooks?.endpointPerConnection) webhooks = { ...definition.webhooks, secrets: [] };
      const id = entry.clientId ?? hosted?.id;
      // A hosted client's secret is read on first use: the hub loads its keys at start, after this.
      const secret = entry.clientSecret ?? hosted?.secret;
      if (id === undefined || secret === undefined) throw new HubError('config_invalid', `integrations.${name}: clientId and clientSecret are required`);
      clientId = id;
      clientSecret = secret;
      if (!definition.oauth) throw new HubError('config_invalid', `integrations.${name}: a built-in integration without OAuth is not supported yet`);
      scopes = entry.scopes ?? definition.oauth.scopes;
    }
    const oauth = definition.oauth;
    if (!oauth) throw new HubError('internal', `integrations.${name}: resolved without its OAuth endpoints`);
    const issuer = oauth.issuer ?? new URL(oauth.authorizeUrl).origin;
    const client = new OAuthClient({ ...oauth, clientId, clientSecret, scopes }, ctx.clock);
    const secretOf = clientSecret;
    out.push({
      definition,
      client,
      clientId,
      get clientSecret() {
        return typeof secretOf === 'string' ? secretOf : secretOf();
      },
      ...(webhooks ? { webhooks } : {}),
      flow: {
        name,
        title: definition.title,
        client,
        issuer,
        // Only a custom integration's issuer is the config's to change.
        ...(entry.type === 'custom' ? { issuerSetting: { key: `integrations.${name}.oauth.issuer`, defaulted: oauth.issuer === undefined } } : {}),
        scopes,
        requireIss: oauth.requireIss,
      },
    });
  }
  return out;
}

/**
 * A hosted provider signs with the hub's own generated secret, which the hub verifies with beside
 * any configured ones. Read on each use: the hub loads its keys at start, after this is built.
 */
function withHostedSecret(w: WebhooksConfig, secret: () => string): WebhooksConfig {
  const configured = w.secrets;
  return {
    ...w,
    get secrets() {
      return [...configured, secret()];
    },
  };
}

/** An API declared in config that is called with one key from config, or with none. */
export interface KeyedIntegration {
  definition: IntegrationDefinition;
  credentials: Credentials;
  webhooks?: WebhooksConfig;
}

/** The enabled custom integrations with `auth` instead of `oauth`: their tools need no linking. */
export function resolveKeyedIntegrations(config: HubConfig): KeyedIntegration[] {
  const out: KeyedIntegration[] = [];
  for (const [name, entry] of Object.entries(config.integrations)) {
    if (entry.disabled || entry.type !== 'custom' || !entry.auth) continue;
    const { definition, webhooks } = definitionFromConfig(name, entry);
    const auth = entry.auth;
    const credentials =
      auth.type === 'apiKey'
        ? apiKeyCredentials({ header: auth.header, value: auth.value, ...(auth.prefix === undefined ? {} : { prefix: auth.prefix }) })
        : noCredentials;
    out.push({ definition, credentials, ...(webhooks ? { webhooks } : {}) });
  }
  return out;
}
