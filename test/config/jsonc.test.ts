import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

describe('config files are JSONC', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('accepts line and block comments and trailing commas', () => {
    const text = `// the hub's config
{
  /* bind */ "server": { "port": 9000, },   // trailing comma above
  "logLevel": "warn",
  "mcpServers": { "fx": { "command": "node", "args": ["x.js",], }, },
}
`;
    const c = parseConfigText(text, 'sb.jsonc', {});
    expect(c.server.port).toBe(9000);
    expect(c.logLevel).toBe('warn');
    // The same config written as strict JSON gives the same result, defaults and all.
    expect(c).toEqual(configSchema.parse({ server: { port: 9000 }, logLevel: 'warn', mcpServers: { fx: { command: 'node', args: ['x.js'] } } }));
  });

  it('warns of a key set twice in one object, with its line and column; the last one counts, and stdio does not look', () => {
    dir = tmpDir();
    const file = join(dir.path, 'switchboard.config.json');
    writeFileSync(
      file,
      `{
  "mcpServers": { "a": { "command": "node" } },
  "logLevel": "warn",
  "mcpServers": { "b": { "command": "node" }, "b": { "command": "python3" } }
}
`,
    );
    const warnings: string[] = [];
    const loaded = loadConfig({ file, env: {}, warn: (m) => warnings.push(m), duplicates: true });
    expect(Object.keys(loaded.config.mcpServers)).toEqual(['b']);
    expect(loaded.config.mcpServers['b']).toMatchObject({ command: 'python3' });
    expect(warnings).toEqual([
      `${file}:4:3: "mcpServers" is set twice in one object; only the last one counts`,
      `${file}:4:47: "mcpServers.b" is set twice in one object; only the last one counts`,
    ]);
    const quiet: string[] = [];
    loadConfig({ file, env: {}, warn: (m) => quiet.push(m) });
    expect(quiet).toEqual([]);
  });

  it('keeps // inside strings (URLs) as text', () => {
    const c = parseConfigText('{ "server": { "publicUrl": "https://hub.example.test" } } // done', 'sb.json', {});
    expect(c.server.publicUrl).toBe('https://hub.example.test');
  });

  it('reports a syntax error with the file, line and column', () => {
    const text = '{\n  "server": {\n    "port": 8787\n    "host": "127.0.0.1"\n  }\n}\n';
    const err = hubErrorOf(() => parseConfigText(text, '/etc/sb.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe('/etc/sb.json:4:5: not valid JSON (comments and trailing commas are fine): CommaExpected at "\\"host\\""');
    expect(err.details).toEqual({ file: '/etc/sb.json', line: 4, column: 5, error: 'CommaExpected' });
  });

  it('reports a file that ends too early at its end', () => {
    const err = hubErrorOf(() => parseConfigText('{ "server": ', 'broken.json', {}));
    expect(err.message).toBe('broken.json:1:13: not valid JSON (comments and trailing commas are fine): ValueExpected at the end of the file');
  });

  it('reports an empty file instead of running on defaults', () => {
    const err = hubErrorOf(() => parseConfigText('  // nothing here\n', 'empty.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/^empty\.json:2:1: not valid JSON .*ValueExpected at the end of the file$/);
  });

  it('reads a file with a byte-order mark', () => {
    dir = tmpDir();
    const file = join(dir.path, 'bom.json');
    writeFileSync(file, '\uFEFF{ "logLevel": "error" }');
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.config.logLevel).toBe('error');
    expect(loaded.dataDirSet).toBe(false);
  });

  it('tells whether the file set dataDir itself', () => {
    dir = tmpDir();
    const file = join(dir.path, 'sb.json');
    writeFileSync(file, '{ "dataDir": "state" }');
    expect(loadConfig({ file, env: {} })).toMatchObject({ file, dataDirSet: true, config: { dataDir: 'state' } });
  });
});
