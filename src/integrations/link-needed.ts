import { randomBytes } from 'node:crypto';
import { UrlElicitationRequiredError, inputRequired, type CallToolResult } from '@modelcontextprotocol/server';
import type { Connection } from '../connections/types.js';
import type { Identity } from '../identity/identity.js';
import { ERROR_META_KEY, ERROR_SPECS } from '../errors.js';
import { toolError, type CallContext, type InputRequired } from '../mcp/source.js';

export interface LinkNeeded {
  /** The caller's connection when it has one (it must be linked again), else undefined (never linked). */
  connection: Connection | undefined;
  /** The integration's title, as the message names it. */
  title: string;
  /** Where the caller links (or re-links) the account. */
  url: string;
  /** A line added to the message (the hub's link notice), when there is one. */
  notice?: string | undefined;
}

/**
 * What a call that needs an account link answers: the link, as a URL elicitation when the client
 * can show one (2025-11-25 throws URLElicitationRequiredError, 2026-07-28 returns input_required),
 * else as an isError result coded `connection_required` (never linked) or `connection_needs_reauth`
 * (linked, must be linked again), so a client can tell it from a failure of the tool.
 */
export function linkNeeded(ctx: CallContext, o: LinkNeeded): CallToolResult | InputRequired {
  const caps = ctx.clientCapabilities as { elicitation?: { url?: unknown } } | undefined;
  // A retry after the user was shown the link, still unlinked: say so instead of asking again.
  if (ctx.inputResponses !== undefined || caps?.elicitation?.url === undefined) return linkRefusal(o);
  const message = messageOf(o);
  const url = o.url;
  if (ctx.request !== undefined) {
    // 2025-11-25: URLElicitationRequiredError (-32042) tells the client to open the link and retry.
    const elicitationId = randomBytes(12).toString('base64url');
    throw new UrlElicitationRequiredError([{ mode: 'url', message, url, elicitationId }], message);
  }
  // 2026-07-28: an input_required result; the client shows the link and retries with the response.
  return inputRequired({ inputRequests: { link: inputRequired.elicitUrl({ url, message }) } });
}

/**
 * The link as an isError result coded `connection_required` or `connection_needs_reauth`: what a
 * client that cannot show a URL elicitation gets, and the result of a queued write run as an MCP
 * Task whose account must be linked again (no elicitation can reach a task's caller).
 */
export function linkRefusal(o: LinkNeeded): CallToolResult {
  const code = o.connection ? 'connection_needs_reauth' : 'connection_required';
  return toolError(messageOf(o), { _meta: { [ERROR_META_KEY]: { code, retryable: ERROR_SPECS[code].retryable } } });
}

function messageOf(o: LinkNeeded): string {
  const { connection: c, title, url } = o;
  const message = c
    ? `Your ${title} connection needs to be linked again${c.reason ? ` (${c.reason})` : ''}. Open this link to re-link it, then call the tool again: ${url}`
    : `Link your ${title} account to use this tool. Open this link, approve access, then call the tool again: ${url}`;
  return o.notice ? `${message}\n${o.notice}` : message;
}

/** What an integration's link offers need: where its links open and how to read a connection again. */
export interface LinkOfferOptions {
  title: string;
  connections: { get(id: string): Promise<Connection | undefined> };
  /** A signed link that starts linking this integration for this identity. */
  linkUrl: (identity: Identity) => string;
  /** Settles once links name where they open (LinkSigner.settled). */
  linksSettled?: (() => Promise<void>) | undefined;
  /** A warning to show with the link while the hub at the public URL would reject it. */
  linkNotice?: (() => string | undefined) | undefined;
}

/**
 * The link an integration offers, in each place a call can need it: a call without an active
 * connection, a call that found the account needing a new link, and a queued write's MCP Task.
 * One place, so the link, its notice and its words are the same in all three.
 */
export class LinkOffers {
  constructor(private readonly o: LinkOfferOptions) {}

  /** A call whose caller has no active connection: `c` is the one to link again, or none (never linked). */
  async forCall(ctx: CallContext, c: Connection | undefined): Promise<CallToolResult | InputRequired> {
    await this.o.linksSettled?.();
    return linkNeeded(ctx, { connection: c, title: this.o.title, url: this.o.linkUrl(ctx.identity), notice: this.o.linkNotice?.() });
  }

  /** A call that found the account needing a new link: read again, so the words give the reason its refresh stored. */
  async again(ctx: CallContext, c: Connection): Promise<CallToolResult | InputRequired> {
    return this.forCall(ctx, await this.o.connections.get(c.id));
  }

  /**
   * A queued write that failed for want of a new link, as its MCP Task's result: the link in the
   * words a direct call answers with (no elicitation reaches the caller of a task).
   */
  async forJob(job: { tenant: string; user: string; connectionId: string }): Promise<CallToolResult> {
    await this.o.linksSettled?.();
    const url = this.o.linkUrl({ tenant: job.tenant, user: job.user, scopes: [] });
    return linkRefusal({ connection: await this.o.connections.get(job.connectionId), title: this.o.title, url, notice: this.o.linkNotice?.() });
  }
}
