import type { Client } from '@modelcontextprotocol/client';
import type { CachedLists } from '../../store/list-cache.js';
import type { ChangeKind } from '../source.js';

export const NO_LISTS: CachedLists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/**
 * A server's lists of one kind (or all), fetched anew; the other kinds are kept from `current`.
 * Only what the server advertises is asked for, and templates are optional (older servers answer
 * resources/templates/list with an error).
 */
export async function fetchLists(
  client: Client,
  current: CachedLists,
  kind: ChangeKind | 'all',
  opts: { timeout: number; cache?: 'refresh' },
): Promise<CachedLists> {
  const caps = client.getServerCapabilities();
  const next = { ...current };
  if (kind === 'all' || kind === 'tools') next.tools = caps?.tools ? (await client.listTools(undefined, opts)).tools : [];
  if (kind === 'all' || kind === 'resources') {
    next.resources = caps?.resources ? (await client.listResources(undefined, opts)).resources : [];
    next.resourceTemplates = caps?.resources
      ? (await client.listResourceTemplates(undefined, opts).catch(() => ({ resourceTemplates: [] }))).resourceTemplates
      : [];
  }
  if (kind === 'all' || kind === 'prompts') next.prompts = caps?.prompts ? (await client.listPrompts(undefined, opts)).prompts : [];
  return next;
}

/** One comparable string per kind: what a change announcement is about. */
export function fingerprint(l: CachedLists): Record<ChangeKind, string> {
  return { tools: JSON.stringify(l.tools), resources: JSON.stringify([l.resources, l.resourceTemplates]), prompts: JSON.stringify(l.prompts) };
}
