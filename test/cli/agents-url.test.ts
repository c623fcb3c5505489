/**
 * `agents list --url` is the running hub's base URL: a word that is no http(s) URL, or one with a
 * query, fragment or credentials (after which `/metrics` makes no URL, and whose password fetch's
 * refusal echoed), is a usage mistake naming the flag, never "no hub answers" with exit 0.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tmpDir } from '../helpers/hub.js';

let dir: ReturnType<typeof tmpDir>;
let config: string;
beforeAll(() => {
  dir = tmpDir('switchboard-agents-url-');
  config = join(dir.path, 'switchboard.config.json');
  const agent = { protocol: 'upagents', baseUrl: 'http://127.0.0.1:9/v1', agentId: 'agent_x_v1', apiKey: 'k', mode: 'sync' };
  writeFileSync(config, JSON.stringify({ server: { port: 0 }, agents: { triage: agent } }));
});
afterAll(() => dir.remove());

describe('agents list --url', () => {
  it.each([
    ['notaurl', "--url notaurl: expected the running hub's http(s) URL"],
    ['ftp://hub.example', "--url ftp://hub.example/: expected the running hub's http(s) URL"],
    ['http://127.0.0.1:9/?token=QSECRET', '--url http://127.0.0.1:9/: the hub URL takes no query, fragment or credentials'],
    ['http://admin:PWSECRET@127.0.0.1:9', '--url http://127.0.0.1:9/: the hub URL takes no query, fragment or credentials'],
  ])('%s exits 2 naming the flag, and never echoes a secret in it', async (url, said) => {
    const r = await runCli(['agents', 'list', '--url', url, '--config', config], dir.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain(`switchboard agents: ${said}`);
    expect(r.stderr).not.toMatch(/QSECRET|PWSECRET/);
  });
});
