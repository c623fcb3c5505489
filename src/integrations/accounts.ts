import type { Logger } from 'pino';
import type { ConnectionFeed } from '../connections/feed.js';
import type { ConnectionRepository } from '../connections/repository.js';
import type { Connection, ConnectionState } from '../connections/types.js';
import { HubError, describeError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import type { CallbackQuery, OAuthFlows } from '../oauth/flows.js';
import type { LinkSigner } from '../oauth/links.js';
import type { ResolvedIntegration } from './registry.js';

export interface AccountsOptions {
  integrations: ResolvedIntegration[];
  connections: ConnectionRepository;
  /** Where every change of a connection is published (tool lists are kept fresh from it). */
  feed: ConnectionFeed;
  flows: OAuthFlows;
  links: LinkSigner;
  /** Without a trailing slash. */
  publicUrl: string;
  log: Logger;
}

export interface IntegrationStatus {
  name: string;
  title: string;
  description: string | undefined;
  connection: Connection | undefined;
  /** Where the provider sends this connection's webhooks, when it has its own endpoint. */
  webhookUrl?: string;
}

/** Linking, re-linking and revoking accounts: what /connect, the OAuth routes and the CLI share. */
export class Accounts {
  private readonly byName: Map<string, ResolvedIntegration>;
  private readonly announced = new Map<string, ConnectionState>();

  constructor(private readonly opts: AccountsOptions) {
    this.byName = new Map(opts.integrations.map((i) => [i.definition.name, i]));
  }

  get connections(): ConnectionRepository {
    return this.opts.connections;
  }

  integration(name: string): ResolvedIntegration | undefined {
    return this.byName.get(name);
  }

  list(): ResolvedIntegration[] {
    return [...this.byName.values()];
  }

  linkUrl(who: Identity, integration: string): string {
    return `${this.opts.publicUrl}/oauth/${encodeURIComponent(integration)}/start?link=${this.opts.links.mint('link', who, integration)}`;
  }

  connectUrl(who: Identity): string {
    return `${this.opts.publicUrl}/connect?link=${this.opts.links.mint('connect', who)}`;
  }

  status(who: Identity): Promise<IntegrationStatus[]> {
    return Promise.all(
      this.list().map(async (i) => {
        const connection = await this.opts.connections.find(who.tenant, who.user, i.definition.name);
        const webhookUrl = connection && this.webhookUrl(connection);
        return {
          name: i.definition.name,
          title: i.definition.title,
          description: i.definition.description,
          connection,
          ...(webhookUrl === undefined ? {} : { webhookUrl }),
        };
      }),
    );
  }

  /** The URL of a connection's own webhook endpoint, if it has one. */
  webhookUrl(c: Connection): string | undefined {
    if (c.webhookEndpoint === null) return undefined;
    return `${this.opts.publicUrl}/webhooks/${encodeURIComponent(c.integration)}/${encodeURIComponent(c.webhookEndpoint)}`;
  }

  /** True when the user linked the integration through a flow completed at or after `since`. */
  async linkedSince(who: Identity, integration: string, since: number): Promise<boolean> {
    const c = await this.opts.connections.find(who.tenant, who.user, integration);
    const completed = await this.opts.flows.lastCompleted(who.tenant, who.user, integration);
    // A background refresh also touches the connection; only a completed flow counts as linking.
    if (c?.state !== 'active' || completed === undefined || completed < since || c.updatedAt < completed) return false;
    // A flow is "completed" once its callback is used, denied or failed too: the row's last write
    // must then be the link's own, not a refresh of the tokens it already had (a claim, a commit or
    // a failure of one), which would read as an account linked when nothing was. A link clears the
    // refresh bookkeeping and leaves the last refresh behind it; a first link made the row.
    return c.createdAt >= completed || (c.refreshStartedAt === null && c.refreshFailures === 0 && c.lastRefreshAt !== c.updatedAt);
  }

  /** Opens a flow for a signed link; refuses a link for another integration. */
  async start(integration: string, link: string): Promise<{ authorizeUrl: string; state: string; browserSecret: string; stateHash: string }> {
    const payload = this.opts.links.verify(link, 'link');
    const i = this.byName.get(integration);
    if (!i || payload.i !== integration) throw new HubError('oauth_flow_failed', 'this link is for another integration');
    const begun = await this.opts.flows.begin(payload, i.flow);
    return { ...begun, stateHash: this.opts.flows.stateHash(begun.state) };
  }

  /** Which cookie binds the browser to the flow of this state. */
  cookieName(state: string): string {
    return `sb_flow_${this.opts.flows.stateHash(state).slice(0, 16)}`;
  }

  async complete(q: CallbackQuery, browserSecret: string | undefined): Promise<{ connection: Connection; title: string }> {
    const name = q.state ? await this.opts.flows.integrationOf(q.state) : undefined;
    const i = name === undefined ? undefined : this.byName.get(name);
    if (!i) throw new HubError('oauth_flow_failed', 'this authorization response is unknown or too old; start linking again');
    let connection = await this.opts.flows.complete(q, browserSecret, i.flow);
    // A provider that asks for a URL per account gets one as soon as the account is linked.
    if (i.definition.webhooks?.endpointPerConnection && connection.webhookEndpoint === null) {
      await this.opts.connections.ensureEndpoint(connection.id);
      connection = (await this.opts.connections.get(connection.id)) ?? connection;
    }
    this.opts.log.info({ connection: connection.id, integration: connection.integration, user: connection.user }, 'account linked');
    await this.changed(connection);
    return { connection, title: i.definition.title };
  }

  /**
   * Revokes at the provider (RFC 7009) and forgets the tokens, even when the provider cannot be
   * reached. `asked`: whether a revocation request was sent at all (no revokeUrl, or an integration
   * gone from the config, sends none), so a page can say "not asked" rather than "not confirmed".
   */
  async revoke(c: Connection): Promise<{ providerRevoked: boolean; asked: boolean; warning?: string }> {
    const i = this.byName.get(c.integration);
    let providerRevoked = false;
    let asked = false;
    let warning: string | undefined;
    if (c.state !== 'revoked' && !i) {
      // Without the integration's definition the hub does not know the revocation endpoint, so the
      // provider still honours the tokens: the operator has to hear that, as with any unconfirmed revocation.
      warning = `integration ${c.integration} is not in the config: the provider was not asked to revoke the account's tokens; revoke the app's access at the provider`;
    } else if (c.state !== 'revoked' && i) {
      asked = i.definition.oauth?.revokeUrl !== undefined;
      try {
        providerRevoked = await i.client.revoke(await this.opts.connections.tokens(c));
        // False without a throw: no revokeUrl, so nothing was sent (GitHub has no RFC 7009
        // endpoint). The provider goes on honouring the tokens, which the operator must hear as
        // with any unconfirmed revocation, not read "revoked" as the access ended there.
        if (!providerRevoked)
          warning = `integrations.${c.integration}.oauth has no revokeUrl: the provider was not asked to revoke the account's tokens; revoke the app's access at the provider`;
      } catch (err) {
        warning = `the provider did not confirm the revocation (${describeError(err)}); the hub has forgotten the tokens anyway`;
        this.opts.log.warn({ connection: c.id, err: describeError(err) }, 'provider revocation failed');
      }
    }
    await this.opts.connections.markRevoked(c.id, 'revoked by the user');
    await this.changed(c);
    return warning === undefined ? { providerRevoked, asked } : { providerRevoked, asked, warning };
  }

  /** Publishes the connection's current state on the feed, which tells the owner's clients. */
  async changed(c: Connection): Promise<void> {
    const state = (await this.opts.connections.get(c.id))?.state ?? c.state;
    this.announced.set(c.id, state);
    this.opts.feed.publish({ id: c.id, tenant: c.tenant, user: c.user, integration: c.integration, state });
  }

  /** The state this process last announced for a connection, so a watcher does not announce it again. */
  announcedState(id: string): ConnectionState | undefined {
    return this.announced.get(id);
  }
}
