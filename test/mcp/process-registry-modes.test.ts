/**
 * The records of the stdio servers a hub spawns (`<dataDir>/children/`) name the commands it runs:
 * they are private like the rest of the data dir (a folder only its owner may enter, files only
 * its owner may read), whatever the umask, where they were made 0755 and 0644.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessRegistry } from '../../src/mcp/downstream/process-registry.js';
import { silentLogger } from '../../src/observability/logger.js';
import { tmpDir } from '../helpers/hub.js';

describe('the records of spawned servers', () => {
  const cleanup: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('are a 0700 folder of 0600 files', async () => {
    const dir = tmpDir();
    cleanup.push(dir.remove);
    const before = process.umask(0o022);
    cleanup.push(() => void process.umask(before));
    const registry = new ProcessRegistry(dir.path, silentLogger(), 60_000);
    cleanup.push(() => registry.close());
    registry.spawned(process.pid, 'npx -y @modelcontextprotocol/server-memory');
    const children = join(dir.path, 'children');
    expect(statSync(children).mode & 0o777).toBe(0o700);
    const files = readdirSync(children);
    expect(files.length).toBe(1);
    for (const f of files) expect(statSync(join(children, f)).mode & 0o777).toBe(0o600);
  });
});
