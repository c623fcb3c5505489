import { beforeEach, describe, expect, it } from 'vitest';
import type { CachedLists, ListCache } from '../../../src/store/list-cache.js';

export interface ListCacheHarness {
  cache: ListCache;
  /** Another handle on the same store, as another process (or replica). */
  other: ListCache;
  /** Writes a row's `lists` column as given, to stand for a row this version did not write. */
  writeRaw(server: string, configHash: string, lists: string): Promise<void>;
  /** How many rows the store keeps for the server. */
  rows(server: string): Promise<number>;
}

const lists = (tool: string): CachedLists => ({
  tools: [{ name: tool, inputSchema: { type: 'object', properties: { q: { type: 'string' } } }, annotations: { readOnlyHint: true } }],
  resources: [{ uri: 'file:///a.txt', name: 'a' }],
  resourceTemplates: [{ uriTemplate: 'file:///{path}', name: 'files' }],
  prompts: [{ name: 'summarise', arguments: [{ name: 'text', required: true }] }],
});

/**
 * The contract every ListCache keeps (SQLite, PostgreSQL), with a fresh, empty store per test: the
 * last lists per server and config, one config per server, and a row it cannot read is absent.
 */
export function listCacheContract(name: string, make: () => ListCacheHarness | Promise<ListCacheHarness>): void {
  describe(`ListCache contract: ${name}`, () => {
    let h: ListCacheHarness;
    beforeEach(async () => {
      h = await make();
    });

    it('returns what was put, whole, to either handle; nothing for another server or config', async () => {
      expect(await h.cache.get('files', 'h1')).toBeUndefined();
      await h.cache.put('files', 'h1', lists('search'));
      expect(await h.other.get('files', 'h1')).toEqual(lists('search'));
      expect(await h.other.get('files', 'h2')).toBeUndefined();
      expect(await h.other.get('mail', 'h1')).toBeUndefined();
    });

    it('a put replaces the lists of the same config, and drops those of the server’s older config', async () => {
      await h.cache.put('files', 'h1', lists('search'));
      await h.cache.put('mail', 'h1', lists('send'));
      await h.other.put('files', 'h1', lists('find'));
      expect(await h.cache.get('files', 'h1')).toEqual(lists('find'));
      await h.other.put('files', 'h2', lists('grep'));
      expect(await h.cache.get('files', 'h1')).toBeUndefined();
      expect(await h.cache.get('files', 'h2')).toEqual(lists('grep'));
      expect(await h.rows('files')).toBe(1);
      expect(await h.cache.get('mail', 'h1')).toEqual(lists('send'));
    });

    it('a row that is not JSON, or not lists, reads as absent', async () => {
      await h.writeRaw('files', 'bad-json', '{"tools": [');
      await h.writeRaw('other', 'bad-shape', JSON.stringify({ tools: [{ title: 'no name' }], resources: [], resourceTemplates: [], prompts: [] }));
      expect(await h.cache.get('files', 'bad-json')).toBeUndefined();
      expect(await h.cache.get('other', 'bad-shape')).toBeUndefined();
      // Fields a newer version added are kept, not refused.
      await h.writeRaw('newer', 'h', JSON.stringify({ ...lists('x'), tools: [{ name: 'x', icons: [] }], extra: 1 }));
      expect((await h.cache.get('newer', 'h'))?.tools).toEqual([{ name: 'x', icons: [] }]);
    });
  });
}
