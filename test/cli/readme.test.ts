import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load.js';
import { ROOT, tmpDir } from '../helpers/hub.js';
import { listToolsLikeDesktop } from './desktop-client.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  body: string;
  /** The `<!-- readme-test: … -->` marker on the line before the block, if any. */
  marker: string | undefined;
  line: number;
}

function codeBlocks(md: string): Block[] {
  const blocks: Block[] = [];
  const re = /(?:<!-- readme-test: ([a-z-]+) -->\n)?^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    blocks.push({ marker: m[1], lang: m[2]!, body: m[3]!, line: md.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

const blocks = codeBlocks(README);
const configBlocks = blocks.filter((b) => b.lang === 'jsonc');

describe('README', () => {
  it('starts with the two commands, each in its own block', () => {
    expect(README.startsWith('# Switchboard\n\n```sh\nnpm install && npm start\n```\n\n```sh\nnpm test\n```\n')).toBe(true);
  });

  it('has config examples, and every fragment is marked as one', () => {
    expect(configBlocks.length).toBeGreaterThanOrEqual(2);
    for (const b of configBlocks)
      expect({ line: b.line, wholeOrMarked: b.body.trimStart().startsWith('{') || b.marker === 'config-fragment' }).toEqual({
        line: b.line,
        wholeOrMarked: true,
      });
  });

  describe('every config example loads with the real loader', () => {
    let dir: ReturnType<typeof tmpDir>;
    beforeAll(() => {
      dir = tmpDir('switchboard-readme-');
    });
    afterAll(() => dir.remove());

    it.each(configBlocks.map((b) => [b.line, b] as const))('the block at line %i', (line, b) => {
      // A fragment is an excerpt of the top-level object: wrapped, it must be a whole config.
      const text = b.marker === 'config-fragment' ? `{\n${b.body}\n}\n` : b.body;
      const env = Object.fromEntries([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => [m[1]!, 'set-by-test']));
      const file = join(dir.path, `readme-${line}.jsonc`);
      writeFileSync(file, text);
      expect(loadConfig({ file, env }).file).toBe(file);
    });
  });

  it('the Claude Desktop entry, with the clone path put in, lists tools from / with a 1.x SDK client', { timeout: 60_000 }, async () => {
    const marked = blocks.filter((b) => b.marker === 'claude-desktop-entry');
    expect(marked.map((b) => b.lang)).toEqual(['json']);
    const text = marked[0]!.body.replaceAll('/path/to/switchboard', ROOT);
    const entry = z
      .strictObject({ mcpServers: z.strictObject({ switchboard: z.strictObject({ command: z.string(), args: z.array(z.string()) }) }) })
      .parse(JSON.parse(text));
    const dir = tmpDir('switchboard-readme-desktop-');
    try {
      const { tools, stderr } = await listToolsLikeDesktop(entry.mcpServers.switchboard, { XDG_DATA_HOME: dir.path });
      expect(tools).toEqual(expect.arrayContaining(['sandbox__list_tickets']));
      expect(stderr).toContain(`data dir: ${join(dir.path, 'switchboard')} (the per-user default;`);
    } finally {
      dir.remove();
    }
  });
});
