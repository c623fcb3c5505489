import type { Prompt, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/server';
import { HubError } from '../errors.js';
import { identityKey, type Identity } from '../identity/identity.js';
import type { HeldNamesStore } from '../store/held-names.js';
import { within } from '../within.js';
import { HeldNames } from './held-names.js';
import type { NameClaim } from './naming.js';
import type { ResourceUpdatedListener, SourceChange, StrayListener, ToolSource } from './source.js';

/** The longest a list or a call by name waits for a server's list being read again (a slow server). */
const CURRENT_WAIT_MS = 5_000;

/** `_meta` keys under which the hub tells a client where a tool comes from. */
export const META_SOURCE = 'switchboard/source';
export const META_ORIGINAL_NAME = 'switchboard/originalName';

export interface CatalogEntry<T> {
  /** The name clients see. */
  name: string;
  source: ToolSource;
  /** The name the source knows it by. */
  original: string;
  /** What clients are shown: the source's definition under the exposed name. */
  listed: T;
}

export interface CatalogView {
  version: number;
  tools: readonly CatalogEntry<Tool>[];
  toolsByName: ReadonlyMap<string, CatalogEntry<Tool>>;
  prompts: readonly CatalogEntry<Prompt>[];
  promptsByName: ReadonlyMap<string, CatalogEntry<Prompt>>;
  resources: readonly Resource[];
  resourceTemplates: readonly ResourceTemplate[];
  /** Which source serves a resource URI listed in this view. */
  resourceOwner: ReadonlyMap<string, ToolSource>;
  /** Which source serves the URIs of each resource template listed in this view. */
  templateOwner: ReadonlyMap<string, ToolSource>;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export type CatalogListener = (change: SourceChange) => void;

const MAX_CACHED_VIEWS = 1000;
// A starting source lists what it has: nothing, or a downstream server's cached lists.
const LISTED_STATES = new Set(['starting', 'ready', 'restarting']);

/**
 * The one registry of tool sources. Computes each identity's view (names resolved, order stable)
 * lazily and caches it until a source reports a change, so listing and dispatch do no I/O.
 */
export class Catalog {
  private readonly list: ToolSource[] = [];
  private readonly listeners = new Set<CatalogListener>();
  private readonly resourceListeners = new Set<ResourceUpdatedListener>();
  private readonly strayListeners = new Set<StrayListener>();
  private readonly views = new Map<string, CatalogView>();
  private versionCounter = 0;
  // Names once handed out keep meaning the same tool (or prompt): held-names.ts.
  private readonly toolNames: HeldNames;
  private readonly promptNames: HeldNames;
  private listableAll: Promise<void> | true | undefined;

  /** `heldNames`: replicas on one store hold the names they hand out there, so each name means one tool on all of them. */
  constructor(private readonly opts: { pageSize?: number; heldNames?: HeldNamesStore | undefined } = {}) {
    const shared = (kind: 'tool' | 'prompt') =>
      opts.heldNames && {
        store: opts.heldNames,
        kind,
        settled: (identity: string | undefined, moved: boolean) => this.namesSettled(identity, moved, kind === 'tool' ? 'tools' : 'prompts'),
      };
    this.toolNames = new HeldNames({}, shared('tool'));
    this.promptNames = new HeldNames({}, shared('prompt'));
  }

  get pageSize(): number {
    return this.opts.pageSize ?? 100;
  }

  get version(): number {
    return this.versionCounter;
  }

  add(source: ToolSource): void {
    if (this.list.some((s) => s.name === source.name)) {
      // Configured names are checked at config load (reserved names, one name across mcpServers
      // and integrations): reaching this is a source added in code under a taken name.
      throw new HubError('internal', `two tool sources are named "${source.name}"`);
    }
    this.list.push(source);
    this.listableAll = undefined;
    source.onChange((change) => this.changed(change));
    source.onResourceUpdated?.((uri, identities, eventId) => {
      for (const l of this.resourceListeners) l(uri, identities, eventId);
    });
    source.onStray?.((n, identities) => {
      for (const l of this.strayListeners) l(n, identities);
    });
    this.changed({ kind: 'tools' });
  }

  sources(): readonly ToolSource[] {
    return this.list;
  }

  /** Resolves when every source can be listed; settled once, so later lists pay nothing. */
  whenListable(): Promise<void> | undefined {
    if (this.listableAll === true) return undefined;
    // With replicas, also the names the others handed out: read once from the store, then kept here.
    const names = [this.toolNames.load(), this.promptNames.load()];
    this.listableAll ??= Promise.all([...this.list.map((s) => s.whenListable?.()), ...names]).then(
      () => {
        this.listableAll = true;
        // A view built while a server was still starting (a call that came before any list) may not
        // have its tools yet, and the server's change event can come a turn later: built again.
        this.views.clear();
      },
      (err: unknown) => {
        // The store could not be read: this list fails, and the next one tries again.
        this.listableAll = undefined;
        throw err;
      },
    );
    return this.listableAll;
  }

  /**
   * Resolves once no source is reading again a list its server said changed (undefined when none
   * is), after CURRENT_WAIT_MS at the latest: a server that adds a tool and then answers the call
   * that added it has the tool listed and callable by its caller's next request.
   */
  whenCurrent(): Promise<void> | undefined {
    // With replicas, also the names the others handed out since, and this one's being stored.
    const names = [this.toolNames.sync(), this.promptNames.sync()];
    const pending = [...this.list.map((s) => s.whenCurrent?.()), ...names].filter((p) => p !== undefined);
    if (pending.length === 0) return undefined;
    return within(
      Promise.all(pending).then(() => {}),
      CURRENT_WAIT_MS,
      undefined,
    );
  }

  /** Resolves once every source that serves a cached list while starting has started; undefined when none is. */
  whenStarted(): Promise<void> | undefined {
    const pending = this.list.map((s) => s.whenStarted?.()).filter((p) => p !== undefined);
    return pending.length === 0 ? undefined : Promise.all(pending).then(() => {});
  }

  source(name: string): ToolSource | undefined {
    return this.list.find((s) => s.name === name);
  }

  onChange(listener: CatalogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResourceUpdated(listener: ResourceUpdatedListener): () => void {
    this.resourceListeners.add(listener);
    return () => this.resourceListeners.delete(listener);
  }

  /** What a server said outside any call on one identity's own connection (ToolSource.onStray). */
  onStray(listener: StrayListener): () => void {
    this.strayListeners.add(listener);
    return () => this.strayListeners.delete(listener);
  }

  /** Called by sources (through onChange) and by the hub when something a view depends on moved. */
  changed(change: SourceChange): void {
    this.versionCounter++;
    this.views.clear();
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener belongs to a face; one failing must not stop the others from hearing it.
      }
    }
  }

  /** An identity's names were stored or replaced (held-names.ts): its view is built again, and clients are told if a name moved. */
  private namesSettled(identity: string | undefined, moved: boolean, kind: 'tools' | 'prompts'): void {
    if (moved) this.changed({ kind });
    else if (identity === undefined) this.views.clear();
    else this.views.delete(identity);
  }

  view(identity: Identity): CatalogView {
    const key = identityKey(identity);
    const cached = this.views.get(key);
    if (cached && cached.version === this.versionCounter) return cached;
    const view = this.build(identity);
    if (this.views.size >= MAX_CACHED_VIEWS) this.views.clear();
    this.views.set(key, view);
    return view;
  }

  resolveTool(identity: Identity, name: string): CatalogEntry<Tool> | undefined {
    return this.view(identity).toolsByName.get(name);
  }

  listTools(identity: Identity, cursor: string | undefined): Page<Tool> {
    return paginate(this.view(identity).tools, cursor, this.pageSize, (e) => e.listed);
  }

  listPrompts(identity: Identity, cursor: string | undefined): Page<Prompt> {
    return paginate(this.view(identity).prompts, cursor, this.pageSize, (e) => e.listed);
  }

  listResources(identity: Identity, cursor: string | undefined): Page<Resource> {
    return paginate(this.view(identity).resources, cursor, this.pageSize, (r) => r);
  }

  listResourceTemplates(identity: Identity, cursor: string | undefined): Page<ResourceTemplate> {
    return paginate(this.view(identity).resourceTemplates, cursor, this.pageSize, (r) => r);
  }

  private build(identity: Identity): CatalogView {
    // A restarting source keeps its last-known tools listed (calls answer isError until it is
    // back), so a crash loop does not make tools flicker in and out of every client's list.
    const usable = this.list.filter((s) => LISTED_STATES.has(s.status().state));
    const key = identityKey(identity);
    const tools = named(
      usable,
      (s) => s.tools(identity),
      (t) => t.name,
      (claims) => this.toolNames.assign(key, claims),
    );
    const prompts = named(
      usable,
      (s) => s.prompts?.(identity) ?? [],
      (p) => p.name,
      (claims) => this.promptNames.assign(key, claims),
    );
    const resources: Resource[] = [];
    const resourceTemplates: ResourceTemplate[] = [];
    const resourceOwner = new Map<string, ToolSource>();
    const templated = new Map<string, ToolSource>();
    for (const s of usable) {
      for (const r of s.resources?.(identity) ?? []) {
        if (resourceOwner.has(r.uri)) continue; // the first source to list a URI serves it
        resourceOwner.set(r.uri, s);
        resources.push(r);
      }
      // Likewise a template two sources list: the first serves its URIs, so the second copy is not listed.
      for (const t of s.resourceTemplates?.(identity) ?? []) {
        if (templated.has(t.uriTemplate)) continue;
        templated.set(t.uriTemplate, s);
        resourceTemplates.push(t);
      }
    }
    // A name not yet stored (replicas) is listed but resolves nothing: a call waits for it in whenCurrent.
    return {
      version: this.versionCounter,
      tools,
      toolsByName: new Map(tools.filter((e) => this.toolNames.resolves(key, e.name)).map((e) => [e.name, e])),
      prompts,
      promptsByName: new Map(prompts.filter((e) => this.promptNames.resolves(key, e.name)).map((e) => [e.name, e])),
      resources,
      resourceTemplates,
      resourceOwner,
      templateOwner: templated,
    };
  }
}

function named<T extends { name: string; _meta?: Record<string, unknown> | undefined }>(
  sources: readonly ToolSource[],
  items: (s: ToolSource) => readonly T[],
  nameOf: (t: T) => string,
  assign: (claims: readonly NameClaim[]) => string[],
): CatalogEntry<T>[] {
  const pairs: { source: ToolSource; item: T }[] = [];
  for (const source of sources) for (const item of items(source)) pairs.push({ source, item });
  const claims: NameClaim[] = pairs.map((p) => ({ source: p.source.name, tool: nameOf(p.item), prefix: p.source.prefix }));
  const names = assign(claims);
  return pairs.map((p, i) => {
    const name = names[i]!;
    const original = nameOf(p.item);
    const listed: T = {
      ...p.item,
      name,
      _meta: { ...p.item._meta, [META_SOURCE]: p.source.name, [META_ORIGINAL_NAME]: original },
    };
    return { name, source: p.source, original, listed };
  });
}

/** Opaque cursors carry an offset; a list that changes between pages is announced by list_changed. */
function paginate<E, T>(all: readonly E[], cursor: string | undefined, size: number, map: (e: E) => T): Page<T> {
  const start = cursor === undefined ? 0 : decodeCursor(cursor);
  const end = Math.min(all.length, start + size);
  const items = all.slice(start, end).map(map);
  return end < all.length ? { items, nextCursor: encodeCursor(end) } : { items };
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeCursor(cursor: string): number {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && 'o' in v && Number.isSafeInteger(v.o) && (v.o as number) >= 0) return v.o as number;
  } catch {
    // fall through to the error below
  }
  throw new HubError('invalid_params', 'invalid pagination cursor');
}
