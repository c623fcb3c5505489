import type { ConnectionReads } from '../connections/repository.js';
import type { Connection } from '../connections/types.js';
import { checkedValue, filledBase, missingValues, placeholdersOf } from '../definition/api-base.js';
import { type ErrorSpec, HubError } from '../errors.js';
import type { InOwnWords } from '../outbox/classify.js';
import { siteDigest } from '../outbox/site.js';
import type { ProviderFetch } from '../providers/client.js';
import type { Credential, Credentials } from '../providers/credentials.js';
import type { IntegrationDefinition } from './definition.js';

export interface ConnectionBasesOptions {
  definition: IntegrationDefinition;
  connections: Pick<ConnectionReads, 'get'>;
  /** Moves the connection to needs_reauth with why, telling its owner's clients (the link is offered). */
  needsRelink: (c: Connection, reason: string) => Promise<void>;
}

/**
 * The API base of each connection of one integration: `apiBaseUrl` filled with the values its link
 * learned. A connection that lacks one (linked before the integration named it) or holds one that
 * no longer passes the checks (allowedHosts narrowed since) is never called on a half-filled or
 * other base: it moves to needs_reauth, saying why, and the call offers the link again.
 */
export class ConnectionBases {
  private readonly templated: boolean;

  constructor(private readonly o: ConnectionBasesOptions) {
    this.templated = placeholdersOf(o.definition.apiBaseUrl).length > 0;
  }

  /** The base of this connection; throws connection_needs_reauth when it has none. */
  async of(c: Connection): Promise<string> {
    const d = this.o.definition;
    if (!this.templated) return d.apiBaseUrl;
    const missing = missingValues(d.apiBaseUrl, c.apiValues);
    const refused = Object.entries(c.apiValues).flatMap(([name, v]) => {
      const r = checkedValue(name, v, d.apiBaseUrl, d.allowedHosts);
      return r.ok ? [] : [r.why];
    });
    const base = missing.length === 0 && refused.length === 0 ? filledBase(d.apiBaseUrl, c.apiValues) : undefined;
    if (base !== undefined) return base;
    const reason =
      missing.length > 0
        ? `it was linked before ${d.title}'s apiBaseUrl named {${missing.join('}, {')}}; link it again so the hub learns ${missing.length === 1 ? 'it' : 'them'}`
        : `${refused.join('; ')}; link it again`;
    await this.o.needsRelink(c, reason);
    throw new HubError('connection_needs_reauth', `Your ${d.title} connection needs to be linked again (${reason})`, {
      details: { connectionId: c.id },
    });
  }

  /**
   * `credentials` of connection `id`, sent only while `base` is still its base (see tiedToBase)
   * and, for a queued write, while its connection is on the write's `site` (see ofId).
   */
  tied(id: string, base: string, credentials: Credentials, site: string | null = null): Credentials {
    return this.templated ? tiedToBase(credentials, base, () => this.ofId(id, site), this.o.definition.title) : credentials;
  }

  /**
   * The base of a connection known by id (a poll, a queued write): read now, so a relink's values
   * are used. `site`: the site a queued write was queued for (Job.siteDigest). A relink to another
   * site since (another Jira site, another org) throws SiteMoved: the write was meant for the old
   * site, whose token the hub no longer holds, and the new site is not where its caller made it. A
   * relink to the same site changes nothing; a write queued before jobs kept their site has none.
   */
  async ofId(id: string, site: string | null = null): Promise<string> {
    if (!this.templated) return this.o.definition.apiBaseUrl;
    const c = await this.o.connections.get(id);
    const why = unsendable(c, site);
    if (why === 'gone' || c === undefined) throw new ConnectionGone(this.o.definition.title, id);
    if (why === 'moved') throw new SiteMoved(this.o.definition.title);
    return this.of(c);
  }
}

/**
 * Why a write through connection `c`, queued for `site` (Job.siteDigest; null: none was kept), can
 * never be sent: the connection is gone (revoked, or no row: a new link is a new connection), or
 * it was linked to another site since; undefined while it can be. The send (ofId) and an operator's
 * retry (`switchboard queue retry`) make this one test.
 */
export function unsendable(c: Pick<Connection, 'state' | 'apiValues'> | undefined, site: string | null): 'gone' | 'moved' | undefined {
  if (c === undefined || c.state === 'revoked') return 'gone';
  return site !== null && siteDigest(c.apiValues) !== site ? 'moved' : undefined;
}

/** The connection a poll or a queued write belongs to was revoked: its message names the integration and the connection's id, nothing of the write. */
export class ConnectionGone extends HubError implements InOwnWords {
  readonly ownWords = true;

  constructor(title: string, id: string) {
    super('connection_revoked', `the ${title} connection ${id} is gone`, { details: { connectionId: id } });
    this.name = 'ConnectionGone';
  }
}

/**
 * A queued write whose connection was linked again to another site after it was queued: nothing
 * was sent, and it never is. source_unavailable as the caller reads it (a new call goes to the new
 * site, if that is what they want), but not retryable for the outbox, which fails the job at once
 * rather than send it again later (src/outbox/classify.ts reads `spec.retryable`).
 */
export class SiteMoved extends HubError implements InOwnWords {
  /** Its message names the integration's title and nothing of the write: kept for a sensitive job too. */
  readonly ownWords = true;

  constructor(title: string) {
    super(
      'source_unavailable',
      `Your ${title} connection was linked again to another site after this write was queued; nothing was sent to either site. Call the tool again to make it on the site linked now.`,
    );
    this.name = 'SiteMoved';
  }

  override get spec(): ErrorSpec {
    return { ...super.spec, retryable: false };
  }
}

/**
 * A provider fetch bound to a base found on first use (a queued write's, a poll's): the base is read
 * once per fetch made here, so one send or one poll run uses one base throughout.
 */
export function onBase(base: () => Promise<string>, bind: (base: string) => ProviderFetch): ProviderFetch {
  let bound: Promise<ProviderFetch> | undefined;
  return async (path, init) => {
    bound ??= base().then(bind);
    return (await bound)(path, init);
  };
}

/**
 * A connection's credentials bound to the base its request was resolved against. The base is read
 * before a request is paced and its token after (a pacing wait, a refresh): a relink to another
 * site in between gave the new site's token to the old site, which refused it, and the refusal of
 * the refreshed token then moved the connection just linked to needs_reauth. So the base is read
 * again once the token is in hand; moved, nothing is sent and the caller is told to try again. A
 * queued write's `current` (ConnectionBases.ofId with its site) throws SiteMoved instead, and it is never sent;
 * one queued before jobs kept their site is sent again later, to the new base.
 */
export function tiedToBase(credentials: Credentials, base: string, current: () => Promise<string>, title: string): Credentials {
  const still = async (cred: Credential): Promise<Credential> => {
    if ((await current()) === base) return cred;
    throw new HubError(
      'source_unavailable',
      `Your ${title} connection was linked again to another site while this request waited; nothing was sent to the old one. Try again.`,
    );
  };
  return {
    mode: credentials.mode,
    current: async () => still(await credentials.current()),
    renew: async (rejected, why) => {
      const next = await credentials.renew(rejected, why);
      return next === undefined ? undefined : still(next);
    },
    ...(credentials.refusedAfterRenewal ? { refusedAfterRenewal: credentials.refusedAfterRenewal.bind(credentials) } : {}),
  };
}
