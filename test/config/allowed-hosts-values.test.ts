/**
 * `server.allowedHosts` holds Host header values. A URL there (`https://hub.example.com`, the way
 * publicUrl is written) was accepted and never matched a Host header, so the proxy's requests got
 * 403 host_rejected with nothing pointing at the config: it is refused at load, naming the key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';
import { runCliEnv } from '../cli/run-env.js';

const text = (hosts: string[]) => JSON.stringify({ server: { allowedHosts: hosts } });

describe('server.allowedHosts values', () => {
  let dir: ReturnType<typeof tmpDir> | undefined;
  afterEach(() => dir?.remove());

  it('takes names, addresses and ports as a Host header carries them', () => {
    const hosts = ['hub.example.com', 'Hub.Example.com:8443', '10.0.0.5:8787', '[::1]:8787', '[2001:db8::1]', 'my_service:8787'];
    expect(parseConfigText(text(hosts), 'c.json', {}).server.allowedHosts).toEqual(hosts);
  });

  it.each([['https://hub.example.com'], ['hub.example.com/mcp'], [''], ['::1'], ['hub example.com'], ['user@hub.example.com']])(
    'refuses %j naming the key',
    (h) => {
      const message = hubErrorOf(() => parseConfigText(text(['ok.example', h]), 'c.json', {})).message;
      expect(message).toMatch(/^c\.json: server\.allowedHosts\.1: must be a Host header value/);
    },
  );

  it('the CLI refuses the file with exit 1, naming the file and the key', async () => {
    dir = tmpDir('switchboard-allowed-hosts-');
    const file = join(dir.path, 'c.json');
    writeFileSync(file, text(['https://hub.example.com']));
    const r = await runCliEnv(['doctor', '--config', file, '--data', join(dir.path, 'data')], dir.path, {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}: server.allowedHosts.0: must be a Host header value`);
  });
});
