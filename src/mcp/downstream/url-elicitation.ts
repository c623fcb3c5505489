import { inputRequired, ProtocolError, ProtocolErrorCode, type CallToolResult, type InputRequests } from '@modelcontextprotocol/server';
import { isRecord } from '../../is-record.js';
import { toolError, type CallContext, type InputRequired } from '../source.js';

/** A link a server asks its user to open before the call can go on. */
interface Link {
  url: string;
  message: string;
}

/** The links of a 2025-era server's URL-elicitation-required error (-32042); undefined for any other error. */
export function linksOf(err: unknown): Link[] | undefined {
  if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.UrlElicitationRequired) return undefined;
  const listed = isRecord(err.data) ? err.data['elicitations'] : undefined;
  if (!Array.isArray(listed)) return undefined;
  const links: Link[] = [];
  for (const e of listed) {
    if (!isRecord(e) || typeof e['url'] !== 'string') continue;
    links.push({ url: e['url'], message: typeof e['message'] === 'string' ? e['message'] : err.message });
  }
  return links.length ? links : undefined;
}

/**
 * A 2025-era server's "open this link, then call again" (-32042) for a 2026-07-28 caller, whose
 * wire has no such error (the SDK refuses to send it): the links become URL elicitations of an
 * `input_required` result, and the caller's retry calls the tool again from the start, as a 2025
 * client does after the error. A caller that did not declare URL elicitation, or whose retry met
 * the same error again (the link was not used), gets an error result naming the links instead, so
 * a client never loops on them.
 */
export function linksForModernCaller(links: readonly Link[], ctx: CallContext): InputRequired | CallToolResult {
  const declared = ctx.clientCapabilities?.['elicitation'];
  if (ctx.inputResponses !== undefined || !isRecord(declared) || declared['url'] === undefined) {
    return toolError(links.map((l) => `${l.message} Open this link, then call the tool again: ${l.url}`).join('\n'));
  }
  const inputRequests: InputRequests = {};
  links.forEach((l, i) => {
    inputRequests[`link${i + 1}`] = inputRequired.elicitUrl({ url: l.url, message: l.message });
  });
  return inputRequired({ inputRequests });
}
