import type * as JsoncParser from 'jsonc-parser';
import { lazyRequire } from '../lazy-require.js';

export interface DuplicateKey {
  /** Dotted path of the key, e.g. `mcpServers.github`. */
  path: string;
  /** 1-based line and column of its second (or later) appearance. */
  line: number;
  column: number;
}

/** Loaded on first use: strict JSON configs (and the stdio face's cold start) never need it. */
export const jsoncParser = lazyRequire<typeof JsoncParser>('jsonc-parser');

/**
 * Keys written twice in one object. JSON.parse (and every JSON reader users know) silently keeps
 * the last, so a second `"mcpServers"` block pasted below the first, or two `"github"` entries,
 * drops the first without a word: the hub says where instead.
 */
export function duplicateKeys(text: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const seen: Array<Set<string>> = [];
  jsoncParser().visit(
    text,
    {
      onObjectBegin: () => void seen.push(new Set()),
      onObjectEnd: () => void seen.pop(),
      onObjectProperty: (property, _offset, _length, line, column, pathOf) => {
        const keys = seen.at(-1);
        if (keys === undefined) return;
        if (keys.has(property)) found.push({ path: [...pathOf(), property].join('.'), line: line + 1, column: column + 1 });
        keys.add(property);
      },
    },
    { allowTrailingComma: true, disallowComments: false },
  );
  return found;
}
