/**
 * Which client capabilities a server→client request needs (MCP 2025-11-25 and 2026-07-28 alike):
 * elicitation by mode (a bare `elicitation: {}` declares the form mode only), sampling with tools
 * its `tools` member, roots `roots`. A request for a mode or feature the caller did not declare
 * must not reach it ("Servers MUST NOT send elicitation requests with modes that are not
 * supported by the client").
 */
import { isRecord } from '../is-record.js';

export type Capabilities = Record<string, unknown>;

export interface Embedded {
  method: string;
  params?: Record<string, unknown>;
}

/** The capabilities a client must declare to answer an embedded request (undefined: not a kind the protocol embeds). */
export function requiredFor(e: Embedded): Record<string, Record<string, unknown>> | undefined {
  switch (e.method) {
    case 'elicitation/create':
      return e.params?.['mode'] === 'url' ? { elicitation: { url: {} } } : { elicitation: { form: {} } };
    case 'sampling/createMessage':
      return e.params?.['tools'] !== undefined || e.params?.['toolChoice'] !== undefined ? { sampling: { tools: {} } } : { sampling: {} };
    case 'roots/list':
      return { roots: {} };
    default:
      return undefined;
  }
}

/** What of `required` the client did not declare; a bare `elicitation: {}` declares the form mode, as in 2025. */
export function missing(required: Record<string, Record<string, unknown>>, declared: Capabilities | undefined): Capabilities | undefined {
  const out: Capabilities = {};
  for (const [cap, members] of Object.entries(required)) {
    const have = declared?.[cap];
    if (!isRecord(have)) {
      out[cap] = members;
      continue;
    }
    const lacking = Object.fromEntries(
      Object.entries(members).filter(([m]) => have[m] === undefined && !(cap === 'elicitation' && m === 'form' && have['url'] === undefined)),
    );
    if (Object.keys(lacking).length) out[cap] = lacking;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `elicitation.url`, `sampling.tools`, `roots`: what `missing` found, as a refusal names it. */
export function describeLacking(lacking: Capabilities): string {
  return Object.entries(lacking)
    .flatMap(([cap, members]) => {
      const names = isRecord(members) ? Object.keys(members) : [];
      return names.length ? names.map((m) => `${cap}.${m}`) : [cap];
    })
    .join(', ');
}
