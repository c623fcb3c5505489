import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, sourceFiles, violations, type SourceFile } from './layers.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('imports point one way (ARCHITECTURE.md)', () => {
  const files = sourceFiles(ROOT, ['src', 'servers', 'integrations']);

  it('reads the whole tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap(importsOf).length).toBeGreaterThan(300);
  });

  it('the tree has no wrong edge', () => {
    expect(violations(files)).toEqual([]);
  });

  it('src/ never imports servers/, not even through a dynamic import', () => {
    const edges = files.filter((f) => f.path.startsWith('src/')).flatMap(importsOf);
    expect(edges.filter((e) => e.to.startsWith('servers/'))).toEqual([]);
  });

  it('no code of src/ names the hosted sandbox but the embedded default config', () => {
    // ARCHITECTURE.md: with no config file the sandbox integration is enabled; that default is data.
    const named = files.filter((f) => f.path.startsWith('src/') && /\bsandbox\b/i.test(stripComments(f.text)));
    expect(named.map((f) => f.path)).toEqual(['src/config/load.ts']);
  });
});

describe('the check fails on a wrong edge', () => {
  const synthetic = (path: string, text: string): SourceFile[] => [{ path, text }];

  it('src/ importing servers/', () => {
    expect(violations(synthetic('src/integrations/mount.ts', "import { createSandbox } from '../../servers/sandbox/index.js';"))).toEqual([
      'src/integrations/mount.ts (faces and workers) imports servers/sandbox/index.ts (servers): imports point from servers/ towards the foundation only',
    ]);
  });

  it('a lower layer importing a higher one, also as a dynamic import or a re-export', () => {
    const text = [
      "const m = await import('../mcp/catalog.js');",
      "export { Hub } from '../hub.js';",
      "import type { Accounts } from '../integrations/accounts.js';",
    ].join('\n');
    expect(violations(synthetic('src/store/repo.ts', text))).toEqual([
      'src/store/repo.ts (foundation) imports src/mcp/catalog.ts (faces and workers): imports point from servers/ towards the foundation only',
      'src/store/repo.ts (foundation) imports src/hub.ts (hub): imports point from servers/ towards the foundation only',
      'src/store/repo.ts (foundation) imports src/integrations/accounts.ts (faces and workers): imports point from servers/ towards the foundation only',
    ]);
  });

  it('src/ importing a specific integration outside the registry', () => {
    expect(violations(synthetic('src/integrations/source.ts', "import { sandbox } from '../../integrations/sandbox/index.js';"))).toEqual([
      'src/integrations/source.ts imports an integration; src/ loads integrations only in src/integrations/registry.ts through integrations/index.ts',
    ]);
    expect(violations(synthetic('src/integrations/registry.ts', "import { sandbox } from '../../integrations/sandbox/index.js';"))).toHaveLength(1);
    expect(violations(synthetic('src/integrations/registry.ts', "import { BUILTIN_INTEGRATIONS } from '../../integrations/index.js';"))).toEqual([]);
  });

  it('an integration importing more of src/ than its public types', () => {
    expect(violations(synthetic('integrations/acme/index.ts', "import { ConnectionStore } from '../../src/connections/store.js';"))).toEqual([
      'an integration imports src/connections/store.ts; integrations use only src/integrations/definition.ts, src/definition/',
    ]);
    expect(violations(synthetic('integrations/acme/index.ts', "import { defineIntegration } from '../../src/integrations/definition.js';"))).toEqual([]);
  });

  it('a file in no layer', () => {
    expect(violations(synthetic('src/misc/thing.ts', "import { systemClock } from '../clock.js';"))).toEqual([
      'src/misc/thing.ts is in no layer of ARCHITECTURE.md',
    ]);
  });

  it('a commented-out import is not an edge', () => {
    expect(violations(synthetic('src/store/repo.ts', "// import { Hub } from '../hub.js';\n/* import '../hub.js' */"))).toEqual([]);
  });
});

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}
