import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from './run-env.js';

describe('switchboard init on an existing config', () => {
  let dir: ReturnType<typeof tmpDir>;
  beforeEach(() => {
    dir = tmpDir('switchboard-init-dup-');
  });
  afterEach(() => dir.remove());

  it('warns of a key written twice with its FILE:LINE:COLUMN, as every command but stdio does, and leaves the file as it is', async () => {
    const file = join(dir.path, 'switchboard.config.json');
    const text = '{\n  "mcpServers": { "a": { "command": "node" } },\n  "mcpServers": { "b": { "command": "node" } }\n}\n';
    writeFileSync(file, text);
    const r = await runCliEnv(['init'], dir.path, { XDG_DATA_HOME: join(dir.path, 'xdg') });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`switchboard: warning: ${file}:3:3: "mcpServers" is set twice in one object; only the last one counts`);
    expect(r.stderr).toContain(`${file} exists and was left as it is (it loads).`);
  });
});
