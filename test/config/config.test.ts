import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadConfig, parseConfigText } from '../../src/config/load.js';
import { interpolateEnv } from '../../src/config/interpolate.js';
import { configSchema } from '../../src/config/schema.js';
import { hubErrorOf } from '../helpers/errors.js';
import { tmpDir } from '../helpers/hub.js';

describe('environment interpolation', () => {
  const env = { TOKEN: 'secret-1', EMPTY: '', PORT: '9000' };

  it('replaces ${NAME} anywhere in a string, in nested objects and arrays', () => {
    const out = interpolateEnv({ a: 'Bearer ${TOKEN}', list: ['x${PORT}y', 7, true, null], nested: { deep: '${TOKEN}${PORT}' } }, env, 'c.json');
    expect(out).toEqual({ a: 'Bearer secret-1', list: ['x9000y', 7, true, null], nested: { deep: 'secret-19000' } });
  });

  it('uses the default after :- when the variable is unset or empty', () => {
    const out = interpolateEnv({ a: '${MISSING:-fallback}', b: '${EMPTY:-used}', c: '${TOKEN:-unused}', d: '${MISSING:-}' }, env, 'c.json');
    expect(out).toEqual({ a: 'fallback', b: 'used', c: 'secret-1', d: '' });
  });

  it('keeps $${NAME} as a literal ${NAME}', () => {
    const out = interpolateEnv({ a: 'cost $${TOKEN} and ${TOKEN}', b: '$${MISSING}' }, env, 'c.json');
    expect(out).toEqual({ a: 'cost ${TOKEN} and secret-1', b: '${MISSING}' });
  });

  it('names the key path and the file when a variable without default is unset', () => {
    const err = hubErrorOf(() => interpolateEnv({ mcpServers: { gh: { headers: { authorization: 'Bearer ${GH_TOKEN}' } } } }, env, '/etc/sb.json'));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain('/etc/sb.json');
    expect(err.message).toContain('mcpServers.gh.headers.authorization');
    expect(err.message).toContain('GH_TOKEN');
    expect(err.details).toEqual({ file: '/etc/sb.json', path: 'mcpServers.gh.headers.authorization', variable: 'GH_TOKEN' });
  });

  it('names every unset variable in one error, each at its key path', () => {
    const err = hubErrorOf(() => interpolateEnv({ a: { id: '${ID_A}', secret: '${SECRET_A}' }, b: ['${ID_A}', '${SET:-x}'] }, {}, 'c.json'));
    expect(err.message).toBe(
      'c.json: a.id: environment variable ID_A is not set; a.secret: environment variable SECRET_A is not set; b.0: environment variable ID_A is not set',
    );
    expect(err.details).toEqual({ file: 'c.json', path: 'a.id', variable: 'ID_A', unset: ['ID_A', 'SECRET_A'] });
  });

  it('includes array indexes in the key path', () => {
    const err = hubErrorOf(() => interpolateEnv({ mcpServers: { fs: { args: ['ok', '${NOPE}'] } } }, {}, 'f.json'));
    expect(err.message).toContain('mcpServers.fs.args.1');
  });
});

describe('config parsing', () => {
  it('parses a full config, interpolating before validation', () => {
    const text = JSON.stringify({
      server: { port: 0, maxBodyBytes: 2048 },
      mcpServers: {
        fs: { command: 'node', args: ['${DIR:-/srv}'], timeoutMs: 500 },
        remote: { url: 'https://example.com/mcp', headers: { authorization: 'Bearer ${T}' } },
      },
    });
    const c = parseConfigText(text, 'sb.json', { T: 'tok' });
    expect(c.server).toMatchObject({ port: 0, maxBodyBytes: 2048, host: '127.0.0.1' });
    expect(c.mcpServers['fs']).toEqual({
      command: 'node',
      args: ['/srv'],
      env: {},
      isolation: 'shared',
      prefix: true,
      timeoutMs: 500,
      startupTimeoutMs: 10_000,
      disabled: false,
    });
    expect(c.mcpServers['remote']).toMatchObject({ url: 'https://example.com/mcp', headers: { authorization: 'Bearer tok' } });
  });

  it('rejects an unknown top-level key, naming it and the file', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ mcpServrs: {} }), '/x/sb.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain('/x/sb.json');
    expect(err.message).toMatch(/unknown key mcpServrs\b/);
  });

  it('rejects an unknown nested key with its full path', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ server: { prot: 1 } }), 'sb.json', {}));
    expect(err.message).toContain('unknown key server.prot');
  });

  it('refuses a single sign-on issuer over plain http unless it is on this machine (its ID token is trusted for coming over TLS)', () => {
    const oidc = (issuer: string) => JSON.stringify({ auth: { oidc: { issuer, clientId: 'hub', clientSecret: 's3cret' } } });
    const err = hubErrorOf(() => parseConfigText(oidc('http://idp.corp.example'), 'sb.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/^sb\.json: auth\.oidc\.issuer: must be an https URL/);
    expect(err.message).not.toContain('s3cret');
    for (const ok of ['https://idp.corp.example', 'http://127.0.0.1:9000', 'http://localhost:9000', 'http://[::1]:9000']) {
      expect(parseConfigText(oidc(ok), 'sb.json', {}).auth.oidc?.issuer).toBe(ok);
    }
  });

  it('names the path of a bad value', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ mcpServers: { fs: { command: 'node', timeoutMs: -5 } } }), 'sb.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/^sb\.json: mcpServers\.fs\.timeoutMs: /);
    expect(err.details).toEqual({ file: 'sb.json', issues: [{ path: 'mcpServers.fs.timeoutMs', message: expect.any(String) }] });
  });

  it('names what is wrong in a server entry by the kind of server it came closest to, not "Invalid input"', () => {
    const err = hubErrorOf(() =>
      parseConfigText(JSON.stringify({ mcpServers: { fs: { command: 'node', isolation: 'per-user' }, web: { url: 'ftp://example.com/mcp' } } }), 'sb.json', {}),
    );
    expect(err.message).toMatch(/mcpServers\.fs\.isolation: .*"shared"\|"user"/);
    expect(err.message).toContain('mcpServers.web.url: ');
    expect(err.message).not.toContain('Invalid input');
    expect(err.details).toMatchObject({ issues: [{ path: 'mcpServers.fs.isolation' }, { path: 'mcpServers.web.url' }] });
  });

  it('names an unknown key inside a server entry', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ mcpServers: { fs: { command: 'node', bogus: 1 } } }), 'sb.json', {}));
    expect(err.message).toContain('unknown key mcpServers.fs.bogus');
  });

  it('names the path of a wrongly typed value', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ server: { port: 'eighty' } }), 'sb.json', {}));
    expect(err.message).toContain('server.port');
  });

  it('rejects a server name that would break tool-name prefixes', () => {
    const err = hubErrorOf(() => parseConfigText(JSON.stringify({ mcpServers: { a__b: { command: 'node' } } }), 'sb.json', {}));
    expect(err.message).toContain('__');
  });

  it('reports text that is not JSON with the file name', () => {
    const err = hubErrorOf(() => parseConfigText('{ "server": ', 'broken.json', {}));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain('broken.json');
    expect(err.message).toContain('not valid JSON');
  });
});

describe('loading config files', () => {
  let dir: ReturnType<typeof tmpDir>;
  afterEach(() => dir.remove());

  it('uses the embedded defaults when there is no file', () => {
    dir = tmpDir();
    const loaded = loadConfig({ cwd: dir.path, env: {} });
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.server).toEqual(configSchema.parse({}).server);
    expect(loaded.config.server).toMatchObject({ host: '127.0.0.1', port: 8787, maxBodyBytes: 1024 * 1024 });
    expect(loaded.config).toMatchObject({ dataDir: './data', logLevel: 'info', mcpServers: {} });
  });

  it(`reads ${DEFAULT_CONFIG_FILE} from the working directory when present`, () => {
    dir = tmpDir();
    writeFileSync(join(dir.path, DEFAULT_CONFIG_FILE), JSON.stringify({ server: { port: 1234 }, logLevel: '${LVL}' }));
    const loaded = loadConfig({ cwd: dir.path, env: { LVL: 'warn' } });
    expect(loaded.file).toBe(join(dir.path, DEFAULT_CONFIG_FILE));
    expect(loaded.config.server.port).toBe(1234);
    expect(loaded.config.logLevel).toBe('warn');
  });

  it('fails with config_not_found for an explicit --config that does not exist', () => {
    dir = tmpDir();
    // A default file is present, but an explicit path must not silently fall back to it.
    writeFileSync(join(dir.path, DEFAULT_CONFIG_FILE), '{}');
    const err = hubErrorOf(() => loadConfig({ file: 'missing.json', cwd: dir.path, env: {} }));
    expect(err.code).toBe('config_not_found');
    expect(err.message).toContain(join(dir.path, 'missing.json'));
  });

  it('names the file in errors from an explicit --config', () => {
    dir = tmpDir();
    const file = join(dir.path, 'custom.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { gh: { url: 'https://x.test/mcp', headers: { a: '${UNSET_VAR}' } } } }));
    const err = hubErrorOf(() => loadConfig({ file, env: {} }));
    expect(err.message).toContain(file);
    expect(err.message).toContain('mcpServers.gh.headers.a');
  });
});

describe('server.host', () => {
  it('takes IP addresses and host names, and refuses anything else as this key (not as a DNS failure at bind)', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'hub.example.com'])
      expect(configSchema.parse({ server: { host } }).server.host).toBe(host);
    for (const host of ['not a host!!', '999.1.1.1', 'a..b', '-x.example']) {
      const r = configSchema.safeParse({ server: { host } });
      expect(r.success, host).toBe(false);
      expect(r.error?.issues[0]).toMatchObject({ path: ['server', 'host'], message: expect.stringContaining('IP address or a host name') });
    }
  });
});

describe('server.publicUrl, internalUrl and allowedOrigins', () => {
  it('take http(s) base URLs and origins, and refuse what other URLs cannot be built on', () => {
    for (const url of ['https://hub.example.com', 'http://127.0.0.1:8787', 'https://hub.example.com/switchboard'])
      expect(configSchema.parse({ server: { publicUrl: url, internalUrl: url } }).server.publicUrl).toBe(url);
    const refused = (server: Record<string, unknown>) => configSchema.safeParse({ server }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(refused({ publicUrl: 'javascript:alert(1)' })).toEqual(['server.publicUrl: must be an http or https URL']);
    expect(refused({ publicUrl: 'ftp://hub.example.com' })).toEqual(['server.publicUrl: must be an http or https URL']);
    for (const publicUrl of ['http://hub.example.com/p?x=1', 'https://hub.example.com/#frag', 'https://user:pw@hub.example.com'])
      expect(refused({ publicUrl })).toEqual(['server.publicUrl: must have no query, fragment or credentials: other URLs are built on it']);
    expect(refused({ internalUrl: 'http://10.0.0.2:8787/?a=b' })).toEqual([
      'server.internalUrl: must have no query, fragment or credentials: other URLs are built on it',
    ]);
    expect(configSchema.parse({ server: { allowedOrigins: ['https://app.example', 'http://localhost:3000/'] } }).server.allowedOrigins).toHaveLength(2);
    // A browser extension's pages send their scheme and id as their Origin.
    const extensions = ['chrome-extension://abcdefghijklmnopabcdefghijklmnop', 'moz-extension://1b2c3d4e-aaaa-bbbb-cccc-123456789abc'];
    expect(configSchema.parse({ server: { allowedOrigins: extensions } }).server.allowedOrigins).toEqual(extensions);
    for (const o of ['not a url', 'https://app.example/path', 'null', 'chrome-extension://abc/popup.html', 'file:///tmp/x', 'foo:bar'])
      expect(refused({ allowedOrigins: [o] })).toEqual([
        'server.allowedOrigins.0: must be an origin such as https://app.example.com or chrome-extension://<id> (scheme, host and port, nothing else)',
      ]);
  });
});
