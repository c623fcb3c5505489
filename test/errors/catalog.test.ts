import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_SPECS, type HubErrorCode } from '../../src/errors.js';
import { ROOT } from '../helpers/hub.js';

const SRC = join(ROOT, 'src');
const DOCS = join(ROOT, 'docs/errors.md');
const codes = Object.keys(ERROR_SPECS) as HubErrorCode[];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The rows of the docs' table, keyed by code: `| \`code\` | http | mcp | retryable | log | outcome | meaning |`. */
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(DOCS, 'utf8').split('\n')) {
    const m = /^\| `([a-z_]+)` \|(.*)\|$/.exec(line);
    if (m)
      rows.set(
        m[1]!,
        m[2]!.split('|').map((c) => c.trim()),
      );
  }
  return rows;
}

/** What the docs must say for a code, column by column, derived from the table. */
function expectedColumns(code: HubErrorCode): string[] {
  const s = ERROR_SPECS[code] as (typeof ERROR_SPECS)[HubErrorCode] & { outcome?: string };
  return [String(s.http), s.mcp.kind === 'jsonrpc' ? `JSON-RPC ${s.mcp.code}` : 'tool result', s.retryable ? 'yes' : 'no', s.log, s.outcome ?? 'error'];
}

describe('the error table, its docs and its uses', () => {
  it('docs/errors.md lists every code with the outcomes the table gives it, and a meaning', () => {
    const rows = documentedRows();
    const wrong = codes.filter((c) => {
      const cols = rows.get(c);
      return cols === undefined || JSON.stringify(cols.slice(0, 5)) !== JSON.stringify(expectedColumns(c)) || (cols[5] ?? '').length < 10;
    });
    expect(wrong).toEqual([]);
  });

  it('docs/errors.md lists no code that does not exist', () => {
    const unknown = [...documentedRows().keys()].filter((c) => !(c in ERROR_SPECS));
    expect(unknown).toEqual([]);
    expect(documentedRows().size).toBe(codes.length);
  });

  it('every code is used somewhere under src/ besides the table', () => {
    const uses = new Map<string, string[]>(codes.map((c) => [c, []]));
    for (const file of sourceFiles(SRC)) {
      if (file.endsWith(join('src', 'errors.ts'))) continue;
      const text = readFileSync(file, 'utf8');
      for (const c of codes) {
        if (text.includes(`'${c}'`) || text.includes(`ERROR_SPECS.${c}.`)) uses.get(c)!.push(relative(ROOT, file));
      }
    }
    const unused = [...uses].filter(([, files]) => files.length === 0).map(([c]) => c);
    expect(unused).toEqual([]);
  });

  it('each code has a status that matches its kind and a JSON-RPC code in the reserved or server range', () => {
    for (const c of codes) {
      const s = ERROR_SPECS[c];
      expect(s.http, c).toBeGreaterThanOrEqual(400);
      expect(s.http, c).toBeLessThan(600);
      // JSON-RPC 2.0 §5.1: -32768..-32000 is reserved; the hub uses the predefined codes and the server range.
      if (s.mcp.kind === 'jsonrpc') expect(s.mcp.code >= -32768 && s.mcp.code <= -32000, c).toBe(true);
    }
  });
});
