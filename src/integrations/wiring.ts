import type { Express } from 'express';
import { resolve } from 'node:path';
import { createSandbox, type Sandbox } from '../../servers/sandbox/index.js';
import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/schema.js';
import { ConnectionStore } from '../connections/store.js';
import { mountConnectPage } from '../http/connect.js';
import { OAuthFlows } from '../oauth/flows.js';
import { LinkSigner } from '../oauth/links.js';
import { mountOAuthRoutes } from '../oauth/routes.js';
import { TokenManager } from '../oauth/token-manager.js';
import type { Logger } from '../observability/logger.js';
import type { Db } from '../store/db.js';
import { HubSecrets } from '../store/hub-secrets.js';
import type { Vault } from '../vault/vault.js';
import { Accounts } from './accounts.js';
import { resolveIntegrations } from './registry.js';
import { IntegrationSource } from './source.js';

export interface IntegrationsDeps {
  config: HubConfig;
  db: Db;
  vault: Vault;
  clock: Clock;
  log: Logger;
  publicUrl: string;
  /** Where the hosted sandbox keeps its state; ':memory:' keeps it in memory. */
  dataDir: string;
  /** Token manager tuning (tests shorten leases and polls). */
  tokenOptions?: { marginMs?: number; leaseMs?: number; pollMs?: number; attempts?: number };
}

export interface Integrations {
  accounts: Accounts;
  secrets: HubSecrets;
  tokens: TokenManager;
  links: LinkSigner;
  sources: IntegrationSource[];
  /** Adds /oauth, /connect and the hosted sandbox provider to the HTTP app. */
  mount(app: Express): void;
  close(): void;
}

/** Builds linking, refresh and the integration tool sources from the config. */
export function buildIntegrations(d: IntegrationsDeps): Integrations {
  const secrets = new HubSecrets(d.db, d.vault, d.clock);
  const connections = new ConnectionStore(d.db, d.vault, d.clock);
  const resolved = resolveIntegrations(d.config, { publicUrl: d.publicUrl, clock: d.clock, sandboxSecret: () => secrets.get('sandbox_client_secret').toString('base64url') });
  const byName = new Map(resolved.map((r) => [r.definition.name, r]));
  const links = new LinkSigner(() => secrets.get('link_signing_key'), d.clock);
  const base = d.publicUrl.replace(/\/$/, '');
  const flows = new OAuthFlows(d.db, d.vault, connections, d.clock, `${base}/oauth/callback`);
  const sourceMap = new Map<string, IntegrationSource>();
  let accounts: Accounts | undefined;
  const tokens = new TokenManager({
    store: connections,
    clock: d.clock,
    log: d.log,
    clientFor: (name) => {
      const r = byName.get(name);
      if (!r) throw new Error(`integration ${name} is not configured`);
      return r.client;
    },
    onStateChange: (c) => accounts?.changed(c),
    ...d.tokenOptions,
  });
  accounts = new Accounts({ integrations: resolved, sources: sourceMap, connections, flows, links, publicUrl: d.publicUrl, log: d.log });
  const acc = accounts;
  for (const r of resolved) {
    sourceMap.set(
      r.definition.name,
      new IntegrationSource({ definition: r.definition, connections, tokens, linkUrl: (who) => acc.linkUrl(who, r.definition.name), log: d.log, since: d.clock.now() }),
    );
  }
  let sandbox: Sandbox | undefined;
  const secure = base.startsWith('https:');
  return {
    accounts: acc,
    secrets,
    tokens,
    links,
    sources: [...sourceMap.values()],
    mount(app) {
      const hosted = byName.get('sandbox');
      if (hosted && !sandbox) {
        sandbox = createSandbox({
          issuer: `${base}/sandbox`,
          clients: [{ id: hosted.clientId, secret: hosted.clientSecret, redirectUris: [`${base}/oauth/callback`], name: 'Switchboard' }],
          dbFile: d.dataDir === ':memory:' ? ':memory:' : resolve(d.dataDir, 'sandbox.db'),
          clock: d.clock,
        });
      }
      if (sandbox) {
        const s = sandbox;
        app.get(s.wellKnownPath, (_req, res) => {
          res.json(s.metadata);
        });
        app.use('/sandbox', s.router);
      }
      mountOAuthRoutes(app, acc, { secureCookies: secure, log: d.log });
      mountConnectPage(app, { accounts: acc, links, clock: d.clock, log: d.log, secureCookies: secure });
    },
    close() {
      sandbox?.close();
    },
  };
}
