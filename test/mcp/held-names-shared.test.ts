import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/identity.js';
import { Catalog } from '../../src/mcp/catalog.js';
import { stableHash } from '../../src/mcp/naming.js';
import type { SourceChange, SourceStatus, ToolSource } from '../../src/mcp/source.js';
import { MemoryHeldNames } from '../../src/store/held-names.js';

/**
 * Replicas on one store hold the names they hand out there (src/mcp/held-names.ts): two catalogs
 * on one MemoryHeldNames are two replicas whose copies of servers A (first in config) and B differ
 * — on one, A has no `echo` (an older version, or down), on the other it has. A stateless client
 * lists on one and calls on the other; the name must mean the same tool on both.
 */

const bob: Identity = { tenant: 'default', user: 'bob', scopes: ['mcp'] };

/** An unprefixed in-memory source with fixed tools. */
class FixedSource implements ToolSource {
  readonly kind = 'fixture';
  readonly prefix = false;
  constructor(
    readonly name: string,
    private readonly names: string[],
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return { state: 'ready', since: 0, restarts: 0 };
  }
  tools(): readonly Tool[] {
    return this.names.map((name) => ({ name, inputSchema: { type: 'object' } }));
  }
  async callTool(): Promise<CallToolResult> {
    return { content: [] };
  }
  onChange(_listener: (c: SourceChange) => void): () => void {
    return () => {};
  }
}

/** A replica: A lists `echo` or not, B always does. */
function replica(store: MemoryHeldNames, aHasEcho: boolean): Catalog {
  const catalog = new Catalog({ heldNames: store });
  catalog.add(new FixedSource('A', aHasEcho ? ['echo'] : []));
  catalog.add(new FixedSource('B', ['echo']));
  return catalog;
}

const owners = (catalog: Catalog) => catalog.view(bob).tools.map((e) => `${e.name}=${e.source.name}`);
const echoA = `echo_${stableHash('A', 'echo')}`;
const echoB = `echo_${stableHash('B', 'echo')}`;

describe('tool names held in a store replicas share', () => {
  it('resolve on a replica started later to the tool another replica listed, not to the one its own order would give', async () => {
    const store = new MemoryHeldNames();
    const r0 = replica(store, false);
    await r0.whenListable();
    expect(owners(r0)).toEqual(['echo=B']);
    // Not stored yet: the name is listed, but a call waits for it in whenCurrent.
    expect(r0.resolveTool(bob, 'echo')).toBeUndefined();
    await r0.whenCurrent();
    expect(r0.resolveTool(bob, 'echo')?.source.name).toBe('B');

    const r1 = replica(store, true);
    // Before the store was read, nothing resolves.
    expect(r1.resolveTool(bob, 'echo')).toBeUndefined();
    await r1.whenListable();
    expect(r1.resolveTool(bob, 'echo')?.source.name).toBe('B');
    expect(owners(r1)).toEqual([`${echoA}=A`, 'echo=B']);
  });

  it('are read again by a replica that read the store before another replica stored them, before a call resolves', async () => {
    const store = new MemoryHeldNames();
    const [r0, r1] = [replica(store, false), replica(store, true)];
    await Promise.all([r0.whenListable(), r1.whenListable()]);
    expect(owners(r0)).toEqual(['echo=B']);
    await r0.whenCurrent();
    // r1's own order gives `echo` to A, but that is not stored, so the call waits and reads the store.
    expect(r1.resolveTool(bob, 'echo')).toBeUndefined();
    await r1.whenCurrent();
    expect(r1.resolveTool(bob, 'echo')?.source.name).toBe('B');
    expect(owners(r1)).toEqual([`${echoA}=A`, 'echo=B']);
  });

  it('given on two replicas at once: the one stored second takes the first one’s and tells its clients the list changed', async () => {
    const store = new MemoryHeldNames();
    const [r0, r1] = [replica(store, false), replica(store, true)];
    await Promise.all([r0.whenListable(), r1.whenListable()]);
    const changes: SourceChange[] = [];
    r1.onChange((c) => changes.push(c));
    expect(owners(r0)).toEqual(['echo=B']);
    expect(owners(r1)).toEqual(['echo=A', `${echoB}=B`]);
    await r0.whenCurrent();
    await r1.whenCurrent();
    expect(changes).toEqual([{ kind: 'tools' }]);
    expect(owners(r1)).toEqual([`${echoA}=A`, 'echo=B']);
    await r1.whenCurrent();
    expect(r1.resolveTool(bob, 'echo')?.source.name).toBe('B');
    expect(r1.resolveTool(bob, echoA)?.source.name).toBe('A');
    expect(r0.resolveTool(bob, 'echo')?.source.name).toBe('B');
  });

  it('keep the identities put most recently past the store’s bound', async () => {
    const store = new MemoryHeldNames(2);
    for (const user of ['u1', 'u2', 'u3']) await store.put('tool', user, 0, [['echo', 'B\0echo']]);
    const { entries } = await store.since('tool', 0);
    expect(entries.map((e) => e.identity)).toEqual(['u2', 'u3']);
    // A put against a version no longer current stores nothing and answers what is stored.
    expect(await store.put('tool', 'u3', 0, [['echo', 'A\0echo']])).toEqual({
      stored: false,
      entry: { identity: 'u3', version: 3, names: [['echo', 'B\0echo']] },
    });
  });
});
