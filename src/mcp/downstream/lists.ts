import type { Client } from '@modelcontextprotocol/client';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import type { Logger } from '../../observability/logger.js';
import type { CachedLists } from '../../store/list-cache.js';
import type { ChangeKind } from '../source.js';
import { KINDS } from './list-changes.js';
import { serverDeclaresTasks } from '../tasks/backings/downstream-link-2026.js';

export const NO_LISTS: CachedLists = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/** A list a server declares (a `prompts` or `resources` capability) and answers with -32601. */
export type UnimplementedList = 'resources/list' | 'prompts/list';

export interface FetchOptions {
  timeout: number;
  cache?: 'refresh';
  /** Told once per connection and method of a declared list the server does not implement. */
  unimplemented?: (method: UnimplementedList) => void;
}

/**
 * How a connection reads its server's lists: within its connect timeout, and a declared list the
 * server does not implement said once, as a warning by the main connection (each identity's
 * session would say it again).
 */
export function listReading(o: { name: string; log: Logger; role?: 'main' | 'session'; connectTimeoutMs?: number }): FetchOptions {
  return {
    timeout: o.connectTimeoutMs ?? 30_000,
    unimplemented: (method) =>
      o.log[o.role === 'session' ? 'debug' : 'warn']({ source: o.name, method }, 'the server declares a list it does not implement (-32601): read as empty'),
  };
}

/** The methods each connection was found not to implement, so a refresh that meets it again says nothing. */
const told = new WeakMap<Client, Set<UnimplementedList>>();

/**
 * A server's lists of one kind (or all), fetched anew; the other kinds are kept from `current`.
 * Only what the server advertises is asked for, and templates are optional (older servers answer
 * resources/templates/list with an error).
 */
export async function fetchLists(client: Client, current: CachedLists, kind: ChangeKind | 'all', opts: FetchOptions): Promise<CachedLists> {
  const caps = client.getServerCapabilities();
  const req = { timeout: opts.timeout, ...(opts.cache ? { cache: opts.cache } : {}) };
  const next = { ...current };
  if (kind === 'all' || kind === 'tools') next.tools = caps?.tools ? withTaskSupport(client, (await client.listTools(undefined, req)).tools) : [];
  if (kind === 'all' || kind === 'resources') {
    next.resources = caps?.resources ? ((await orEmpty(client, 'resources/list', opts, () => client.listResources(undefined, req)))?.resources ?? []) : [];
    next.resourceTemplates = caps?.resources
      ? (await client.listResourceTemplates(undefined, req).catch(() => ({ resourceTemplates: [] }))).resourceTemplates
      : [];
  }
  if (kind === 'all' || kind === 'prompts')
    next.prompts = caps?.prompts ? ((await orEmpty(client, 'prompts/list', opts, () => client.listPrompts(undefined, req)))?.prompts ?? []) : [];
  return next;
}

/**
 * A declared list's answer, or undefined when the server does not implement it (-32601): hand-
 * written servers often declare `prompts` or `resources` with no list handler, and SDK clients
 * connected to them directly list and call their tools regardless. Any other error still fails
 * the listing, as a server that cannot list its tools does.
 */
async function orEmpty<T>(client: Client, method: UnimplementedList, opts: FetchOptions, list: () => Promise<T>): Promise<T | undefined> {
  try {
    return await list();
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.MethodNotFound) throw err;
    const methods = told.get(client) ?? new Set();
    told.set(client, methods);
    if (!methods.has(method)) opts.unimplemented?.(method);
    methods.add(method);
    return undefined;
  }
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
