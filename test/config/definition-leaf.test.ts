import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Module specifiers of static imports and re-exports, side-effect imports and dynamic imports. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const re of [/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g]) {
    for (const m of text.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, dir, f));
}

/**
 * ARCHITECTURE.md: src/definition/ holds the schemas config and integrations both read, and
 * imports neither — so config never reaches into integrations for a schema.
 */
describe('the shared schemas are a leaf', () => {
  it('src/definition/ imports only zod and its own files', () => {
    const files = tsFiles('src/definition');
    expect(files.length).toBeGreaterThan(5);
    const wrong = files.flatMap((f) =>
      specifiers(f)
        .filter((s) => s !== 'zod' && !/^\.\/[a-z-]+\.js$/.test(s))
        .map((s) => `${f}: ${s}`),
    );
    expect(wrong).toEqual([]);
  });

  it('src/config/ takes its integration schemas from src/definition/, not src/integrations/', () => {
    const files = tsFiles('src/config');
    const edges = files.flatMap((f) => specifiers(f).map((s) => ({ f, s })));
    expect(edges.filter(({ s }) => s.startsWith('../definition/')).length).toBeGreaterThan(0);
    expect(edges.filter(({ s }) => s.includes('/integrations/')).map(({ f, s }) => `${f}: ${s}`)).toEqual([]);
  });

  it('finds the imports it checks', () => {
    expect(specifiers(join(ROOT, 'src/integrations/definition.ts'))).toEqual([
      '@modelcontextprotocol/server',
      'zod',
      '../config/schema.js',
      '../definition/blocks.js',
      '../definition/names.js',
      '../definition/account.js',
      '../definition/api-base.js',
      '../definition/auth.js',
      '../definition/oauth.js',
      '../definition/tools.js',
      '../parse-once.js',
      '../definition/webhooks.js',
      '../observability/logger.js',
    ]);
  });
});
