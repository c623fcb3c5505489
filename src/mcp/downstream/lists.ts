import type { Client } from '@modelcontextprotocol/client';
import type { CachedLists } from '../../store/list-cache.js';
import type { ChangeKind } from '../source.js';
import { KINDS } from './list-changes.js';
import { serverDeclaresTasks } from '../tasks/backings/downstream-link-2026.js';

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
  if (kind === 'all' || kind === 'tools') next.tools = caps?.tools ? withTaskSupport(client, (await client.listTools(undefined, opts)).tools) : [];
  if (kind === 'all' || kind === 'resources') {
    next.resources = caps?.resources ? (await client.listResources(undefined, opts)).resources : [];
    next.resourceTemplates = caps?.resources
      ? (await client.listResourceTemplates(undefined, opts).catch(() => ({ resourceTemplates: [] }))).resourceTemplates
      : [];
  }
  if (kind === 'all' || kind === 'prompts') next.prompts = caps?.prompts ? (await client.listPrompts(undefined, opts)).prompts : [];
  return next;
}

/**
 * `current` with the lists of `kind` taken from `fresh`. Refreshes of different kinds overlap (a
 * server that adds a tool and a resource at once announces both): each writes back its own kind
 * only, or the slower one would put back the other's list as it was before.
 */
export function withKind(current: CachedLists, fresh: CachedLists, kind: ChangeKind): CachedLists {
  if (kind === 'tools') return { ...current, tools: fresh.tools };
  if (kind === 'resources') return { ...current, resources: fresh.resources, resourceTemplates: fresh.resourceTemplates };
  return { ...current, prompts: fresh.prompts };
}

/** One comparable string per kind: what a change announcement is about. */
export function fingerprint(l: CachedLists): Record<ChangeKind, string> {
  return { tools: JSON.stringify(l.tools), resources: JSON.stringify([l.resources, l.resourceTemplates]), prompts: JSON.stringify(l.prompts) };
}

/**
 * The kinds whose lists differ between what a client was shown and what it would be shown now:
 * every one of them is news, whichever change was announced first (a server that comes up with
 * other tools and other prompts announces its tools first, and the prompts compared after the
 * lists shown were renewed would look unchanged).
 */
export function movedKinds(was: Record<ChangeKind, string>, now: Record<ChangeKind, string>): ChangeKind[] {
  return KINDS.filter((k) => was[k] !== now[k]);
}

/**
 * A 2026-07-28 Tool has no `execution` (SEP-2663 deleted it): a server that declares the Tasks
 * extension decides per call whether it makes a task. Its tools are listed as `optional`, so a
 * caller that declared the extension has its call sent on as a task call; a tool that runs only as
 * a task refuses a caller that did not (-32021), and that error is relayed as the server gave it.
 */
function withTaskSupport(client: Client, tools: CachedLists['tools']): CachedLists['tools'] {
  if (client.getProtocolEra() !== 'modern' || !serverDeclaresTasks(client)) return tools;
  return tools.map((t) => (t.execution?.taskSupport ? t : { ...t, execution: { ...t.execution, taskSupport: 'optional' as const } }));
}
