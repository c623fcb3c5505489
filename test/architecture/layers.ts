import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

/**
 * The layer order of ARCHITECTURE.md, outermost first. A file may import its own layer or any
 * layer after its own, never one before it.
 */
export const LAYERS: ReadonlyArray<{ name: string; folders: readonly string[] }> = [
  { name: 'servers', folders: ['servers/'] },
  // The store bundle composes an engine's repositories as the hub composes its parts.
  { name: 'hub', folders: ['src/hub.ts', 'src/hub-options.ts', 'src/hub-http.ts', 'src/store/bundle.ts', 'src/store/pg-bundle.ts'] },
  {
    name: 'faces and workers',
    folders: ['src/mcp/', 'src/http/', 'src/auth/', 'src/agents/', 'src/outbox/', 'src/polling/', 'src/webhooks/', 'src/integrations/', 'src/replicas/'],
  },
  { name: 'accounts', folders: ['src/oauth/', 'src/providers/', 'src/connections/'] },
  {
    name: 'foundation',
    folders: [
      'src/identity/',
      'src/vault/',
      'src/store/',
      'src/config/',
      'src/definition/',
      'src/observability/',
      'src/errors.ts',
      'src/clock.ts',
      'src/lifecycle.ts',
      'src/lazy-require.ts',
      'src/is-record.ts',
      'src/printable.ts',
      'src/make-dir.ts',
      'src/parse-once.ts',
      'src/within.ts',
    ],
  },
];

/** What an integration may use of src/: the definition types and leaf schemas, nothing with state. */
export const INTEGRATION_API: readonly string[] = ['src/integrations/definition.ts', 'src/definition/'];
/** The one file of src/ that may load integrations: the registry, through their index. */
export const REGISTRY = 'src/integrations/registry.ts';
export const INTEGRATIONS_INDEX = 'integrations/index.ts';

export interface SourceFile {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

export interface Edge {
  from: string;
  to: string;
}

// Static imports and re-exports (`import … from`, `export … from`, bare `import '…'`) and dynamic `import('…')`.
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Relative imports of a file, resolved to repository paths (`.js` specifiers name `.ts` sources). */
export function importsOf(file: SourceFile): Edge[] {
  const text = file.text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: Edge[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined || !spec.startsWith('.')) continue; // packages and node: builtins
    const to = posix.normalize(posix.join(posix.dirname(file.path), spec)).replace(/\.js$/, '.ts');
    out.push({ from: file.path, to });
  }
  return out;
}

function layerOf(path: string): number {
  return LAYERS.findIndex((l) => l.folders.some((f) => (f.endsWith('/') ? path.startsWith(f) : path === f)));
}

const under = (path: string, prefixes: readonly string[]) => prefixes.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p));

/** Why an edge is wrong, or undefined when it points the way ARCHITECTURE.md says. */
export function violation(e: Edge): string | undefined {
  const fromIntegration = e.from.startsWith('integrations/');
  const toIntegration = e.to.startsWith('integrations/');
  if (fromIntegration) {
    if (toIntegration || under(e.to, INTEGRATION_API)) return undefined;
    return `an integration imports ${e.to}; integrations use only ${INTEGRATION_API.join(', ')}`;
  }
  if (toIntegration) {
    if (e.from === REGISTRY && e.to === INTEGRATIONS_INDEX) return undefined;
    if (e.from.startsWith('servers/')) return undefined;
    return `${e.from} imports an integration; src/ loads integrations only in ${REGISTRY} through ${INTEGRATIONS_INDEX}`;
  }
  const from = layerOf(e.from);
  const to = layerOf(e.to);
  if (from < 0) return `${e.from} is in no layer of ARCHITECTURE.md`;
  if (to < 0) return `${e.from} imports ${e.to}, which is in no layer of ARCHITECTURE.md`;
  if (to < from) return `${e.from} (${LAYERS[from]!.name}) imports ${e.to} (${LAYERS[to]!.name}): imports point from servers/ towards the foundation only`;
  return undefined;
}

/** Every .ts file under the given folders, as repository paths with their text. */
export function sourceFiles(root: string, folders: readonly string[]): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) out.push({ path: relative(root, full).split('\\').join('/'), text: readFileSync(full, 'utf8') });
    }
  };
  for (const f of folders) walk(join(root, f));
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

export function violations(files: readonly SourceFile[]): string[] {
  return files.flatMap(importsOf).flatMap((e) => violation(e) ?? []);
}
