import type { Express } from 'express';
import type { Clock } from '../clock.js';

/** The hub's own OAuth client at a provider it hosts: generated and kept by the hub, never configured. */
export interface HostedClient {
  id: string;
  /** Never logged; handed only to the provider being hosted. */
  secret: string;
  redirectUri: string;
}

export interface HostedContext {
  /** Where the hub is reached, without a trailing slash. */
  publicUrl: string;
  /** Where the provider keeps its state; ':memory:' keeps it in memory. */
  dataDir: string;
  clock: Clock;
  client: HostedClient;
  /**
   * Where the provider sends every account's events (the app-level endpoint), and the Standard
   * Webhooks secret it signs them with; present when the integration's definition declares webhooks.
   */
  webhooks?: { url: string; secret: string };
}

/**
 * A provider the hub serves on its own HTTP listener (the demo sandbox). The process that starts
 * the hub hands it in (`HubOptions.hosted`), so `src/` never imports the provider's code and knows
 * no provider by name: an enabled integration whose name matches gets the hub's own client.
 */
export interface HostedProvider {
  /** The key of `config.integrations` this provider serves. */
  readonly integration: string;
  /** The client id the hub uses when the config names none. */
  readonly clientId: string;
  /**
   * Loads the provider's code. Called before `mount`, when the hub starts listening: a hub that
   * never listens (a stdio face whose port is taken) never pays for it.
   */
  load?(): Promise<void>;
  /** Adds the provider's routes; returns what closes it. */
  mount(app: Express, ctx: HostedContext): () => void;
}

/** The hub secret that holds a hosted provider's client secret (the name kept from before providers were handed in). */
export function hostedSecretName(integration: string): string {
  return `${integration}_client_secret`;
}

/** The hub secret whose bytes are a hosted provider's webhook signing key. */
export function hostedWebhookSecretName(integration: string): string {
  return `${integration}_webhook_secret`;
}

/** A Standard Webhooks secret (`whsec_` and the base64 key) from the hub secret's 32 random bytes. */
export function hostedWebhookSecret(key: Buffer): string {
  return `whsec_${key.toString('base64')}`;
}
