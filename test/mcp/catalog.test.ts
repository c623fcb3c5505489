import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/errors.js';
import type { Identity } from '../../src/identity/identity.js';
import { Catalog, META_ORIGINAL_NAME, META_SOURCE } from '../../src/mcp/catalog.js';
import { stableHash } from '../../src/mcp/naming.js';
import type { CallContext, SourceChange, SourceState, SourceStatus, ToolSource } from '../../src/mcp/source.js';

const alice: Identity = { tenant: 'default', user: 'alice', scopes: ['mcp'] };
const bob: Identity = { tenant: 'default', user: 'bob', scopes: ['mcp'] };

/**
 * An in-memory tool source: its tools are plain data a test can change, and a call answers with
 * the source and tool names so the test can see where dispatch went.
 */
class MemorySource implements ToolSource {
  readonly kind = 'fixture';
  private state: SourceState = 'ready';
  private readonly listeners = new Set<(c: SourceChange) => void>();

  constructor(
    readonly name: string,
    private toolDefs: Tool[],
    readonly prefix = true,
    /** Tools only some identities may see, keyed by user. */
    private readonly perUser: Record<string, Tool[]> = {},
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.state = 'stopped';
  }
  status(): SourceStatus {
    return { state: this.state, since: 0, restarts: 0 };
  }
  tools(identity: Identity): readonly Tool[] {
    return [...this.toolDefs, ...(this.perUser[identity.user] ?? [])];
  }
  async callTool(tool: string, args: Record<string, unknown> | undefined): Promise<CallToolResult> {
    return { content: [{ type: 'text', text: `${this.name}:${tool}:${JSON.stringify(args ?? {})}` }] };
  }
  onChange(listener: (c: SourceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setTools(tools: Tool[]): void {
    this.toolDefs = tools;
    for (const l of this.listeners) l({ kind: 'tools' });
  }
  setState(state: SourceState): void {
    this.state = state;
    for (const l of this.listeners) l({ kind: 'tools' });
  }
}

function tool(name: string, extra: Partial<Tool> = {}): Tool {
  return { name, description: `tool ${name}`, inputSchema: { type: 'object' }, ...extra };
}

function callContext(identity: Identity): CallContext {
  return { identity, signal: new AbortController().signal, notify: async () => {} };
}

function names(catalog: Catalog, identity: Identity = alice): string[] {
  return catalog.view(identity).tools.map((t) => t.name);
}

describe('catalog', () => {
  it('lists tools of ready sources in source order, then tool order, under prefixed names', () => {
    const catalog = new Catalog();
    catalog.add(new MemorySource('gh', [tool('search'), tool('issue.get')]));
    catalog.add(new MemorySource('fs', [tool('read'), tool('write')]));
    expect(names(catalog)).toEqual(['gh__search', 'gh__issue_get', 'fs__read', 'fs__write']);
    const listed = catalog.listTools(alice, undefined).items;
    expect(listed[1]).toEqual({
      name: 'gh__issue_get',
      description: 'tool issue.get',
      inputSchema: { type: 'object' },
      _meta: { [META_SOURCE]: 'gh', [META_ORIGINAL_NAME]: 'issue.get' },
    });
  });

  it('keeps a tool’s own _meta next to the hub’s keys', () => {
    const catalog = new Catalog();
    catalog.add(new MemorySource('gh', [tool('search', { _meta: { 'vendor/x': 1 } })]));
    expect(catalog.listTools(alice, undefined).items[0]?._meta).toEqual({ 'vendor/x': 1, [META_SOURCE]: 'gh', [META_ORIGINAL_NAME]: 'search' });
  });

  it('mounts prefix:false sources unprefixed and resolves collisions with a stable suffix', () => {
    const build = () => {
      const catalog = new Catalog();
      catalog.add(new MemorySource('one', [tool('search'), tool('only_one')], false));
      catalog.add(new MemorySource('two', [tool('search')], false));
      catalog.add(new MemorySource('three', [tool('search')], true));
      return catalog;
    };
    const catalog = build();
    const suffixed = `search_${stableHash('two', 'search')}`;
    expect(names(catalog)).toEqual(['search', 'only_one', suffixed, 'three__search']);
    const entry = catalog.resolveTool(alice, suffixed);
    expect(entry?.source.name).toBe('two');
    expect(entry?.original).toBe('search');
    expect(entry?.listed._meta?.[META_ORIGINAL_NAME]).toBe('search');
    // A fresh catalog over the same sources (a restart) gives the same names.
    expect(names(build())).toEqual(names(catalog));
  });

  it('resolves an exposed name to its source and original name, and the call reaches it', async () => {
    const catalog = new Catalog();
    catalog.add(new MemorySource('gh', [tool('a.b'), tool('a_b')]));
    const second = `gh__a_b_${stableHash('gh', 'a_b')}`;
    expect(names(catalog)).toEqual(['gh__a_b', second]);
    const first = catalog.resolveTool(alice, 'gh__a_b')!;
    const other = catalog.resolveTool(alice, second)!;
    expect(await first.source.callTool(first.original, { q: 1 }, callContext(alice))).toEqual({ content: [{ type: 'text', text: 'gh:a.b:{"q":1}' }] });
    expect(await other.source.callTool(other.original, undefined, callContext(alice))).toEqual({ content: [{ type: 'text', text: 'gh:a_b:{}' }] });
    expect(catalog.resolveTool(alice, 'gh__nope')).toBeUndefined();
    expect(catalog.resolveTool(alice, 'a.b')).toBeUndefined();
  });

  it('lists starting, ready and restarting sources, hides the others, and shows them again once ready', () => {
    const catalog = new Catalog();
    const flaky = new MemorySource('flaky', [tool('x')]);
    catalog.add(new MemorySource('steady', [tool('y')]));
    catalog.add(flaky);
    expect(names(catalog)).toEqual(['steady__y', 'flaky__x']);
    // A crash loop must not make tools flicker in every client's list.
    flaky.setState('restarting');
    expect(names(catalog)).toEqual(['steady__y', 'flaky__x']);
    // A starting downstream server lists its cached tools, so a client that lists once sees them.
    flaky.setState('starting');
    expect(names(catalog)).toEqual(['steady__y', 'flaky__x']);
    for (const state of ['failed', 'stopped', 'disabled'] as const) {
      flaky.setState(state);
      expect(names(catalog), state).toEqual(['steady__y']);
      expect(catalog.resolveTool(alice, 'flaky__x')).toBeUndefined();
    }
    flaky.setState('ready');
    expect(names(catalog)).toEqual(['steady__y', 'flaky__x']);
  });

  it('rebuilds views when a source reports a change and tells listeners', () => {
    const catalog = new Catalog();
    const src = new MemorySource('s', [tool('a')]);
    catalog.add(src);
    const heard: SourceChange[] = [];
    const off = catalog.onChange((c) => heard.push(c));
    const before = catalog.view(alice);
    expect(catalog.view(alice)).toBe(before); // cached while nothing changes
    const version = catalog.version;
    src.setTools([tool('a'), tool('b')]);
    expect(catalog.version).toBe(version + 1);
    expect(heard).toEqual([{ kind: 'tools' }]);
    expect(names(catalog)).toEqual(['s__a', 's__b']);
    off();
    src.setTools([tool('c')]);
    expect(heard).toHaveLength(1);
    expect(names(catalog)).toEqual(['s__c']);
  });

  it('builds each identity its own view', () => {
    const catalog = new Catalog();
    catalog.add(new MemorySource('s', [tool('shared')], true, { bob: [tool('bobs')] }));
    expect(names(catalog, alice)).toEqual(['s__shared']);
    expect(names(catalog, bob)).toEqual(['s__shared', 's__bobs']);
    expect(catalog.resolveTool(alice, 's__bobs')).toBeUndefined();
    expect(catalog.resolveTool(bob, 's__bobs')?.original).toBe('bobs');
  });

  it('lists a resource or a template two sources list once, from the first (which serves it)', () => {
    const withResources = (name: string) =>
      Object.assign(new MemorySource(name, []), {
        resources: () => [{ uri: 'demo://static', name: `static of ${name}` }],
        resourceTemplates: () => [
          { uriTemplate: 'demo://dynamic/{id}', name: `dynamic of ${name}` },
          { uriTemplate: `${name}://{id}`, name: `own of ${name}` },
        ],
      });
    const catalog = new Catalog();
    catalog.add(withResources('a'));
    catalog.add(withResources('b'));
    const view = catalog.view(alice);
    expect(view.resources.map((r) => r.name)).toEqual(['static of a']);
    expect(view.resourceTemplates.map((t) => t.name)).toEqual(['dynamic of a', 'own of a', 'own of b']);
  });

  it('refuses two sources with the same name', () => {
    const catalog = new Catalog();
    catalog.add(new MemorySource('dup', []));
    expect(() => catalog.add(new MemorySource('dup', []))).toThrow(/two tool sources are named "dup"/);
  });
});

describe('catalog pagination', () => {
  function paged(count: number, pageSize: number): Catalog {
    const catalog = new Catalog({ pageSize });
    catalog.add(
      new MemorySource(
        'p',
        Array.from({ length: count }, (_, i) => tool(`t${String(i).padStart(2, '0')}`)),
      ),
    );
    return catalog;
  }

  it('walks every tool once, in order, following nextCursor', () => {
    const catalog = paged(7, 3);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = catalog.listTools(alice, cursor);
      pages.push(page.items.map((t) => t.name));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(pages).toEqual([['p__t00', 'p__t01', 'p__t02'], ['p__t03', 'p__t04', 'p__t05'], ['p__t06']]);
  });

  it('gives no cursor when everything fits on one page, including an exact fit', () => {
    expect(paged(3, 3).listTools(alice, undefined)).toEqual({ items: expect.any(Array) });
    expect(paged(3, 3).listTools(alice, undefined).items).toHaveLength(3);
    expect(paged(0, 3).listTools(alice, undefined)).toEqual({ items: [] });
  });

  it('defaults to pages of 100', () => {
    const catalog = paged(150, 100);
    expect(new Catalog().pageSize).toBe(100);
    const first = catalog.listTools(alice, undefined);
    expect(first.items).toHaveLength(100);
    expect(catalog.listTools(alice, first.nextCursor).items).toHaveLength(50);
  });

  it('cursors are opaque strings that stay valid for the same list', () => {
    const catalog = paged(5, 2);
    const c1 = catalog.listTools(alice, undefined).nextCursor!;
    expect(c1).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(catalog.listTools(alice, c1)).toEqual(catalog.listTools(alice, c1));
  });

  it('rejects an invalid cursor with invalid_params', () => {
    const catalog = paged(5, 2);
    const bad = [
      'not-a-cursor',
      '',
      Buffer.from('{"o":-1}').toString('base64url'),
      Buffer.from('{"o":1.5}').toString('base64url'),
      Buffer.from('{"offset":2}').toString('base64url'),
      Buffer.from('null').toString('base64url'),
    ];
    for (const cursor of bad) {
      let caught: unknown;
      try {
        catalog.listTools(alice, cursor);
      } catch (err) {
        caught = err;
      }
      expect(caught, `cursor ${JSON.stringify(cursor)}`).toBeInstanceOf(HubError);
      expect(caught).toMatchObject({ code: 'invalid_params', message: 'invalid pagination cursor' });
    }
  });
});
