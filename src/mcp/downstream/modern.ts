import type { Client } from '@modelcontextprotocol/client';
import { CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY } from '@modelcontextprotocol/server';
import type { CallContext } from '../source.js';

/**
 * What a 2026-07-28 request carries for its caller: the caller's capabilities and log level in
 * the envelope (they override the hub's own, which the SDK adds beneath), and on a retry the
 * caller's answers with the downstream's own `requestState`.
 */
export function modernParams(ctx: CallContext): Record<string, unknown> {
  return {
    _meta: {
      ...ctx.meta,
      [CLIENT_CAPABILITIES_META_KEY]: ctx.clientCapabilities ?? {},
      ...(ctx.logLevel === undefined ? {} : { [LOG_LEVEL_META_KEY]: ctx.logLevel }),
    },
    ...(ctx.inputResponses === undefined ? {} : { inputResponses: ctx.inputResponses }),
    ...(ctx.requestState === undefined ? {} : { requestState: ctx.requestState }),
  };
}

/** A connection negotiated on 2026-07-28 or later: no sessions, input arrives as input_required. */
export function isModernClient(client: Client): boolean {
  return client.getProtocolEra() === 'modern';
}
